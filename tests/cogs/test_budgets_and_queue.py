"""Budgets in dollars, the per-member in-flight limit and the fair queue, through both fakes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness


def posts(harness: Harness) -> int:
    return sum(1 for r in harness.openai.requests if r.path == "/v1/responses")


async def test_result_shows_the_real_cost_and_it_is_stored(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low"})
    turn = await running.store.turn_for_interaction(draw.id)
    # The fake's usage: mainline 120 in, 40 out; image tool 64 in, 272 + 2 previews x 100 = 472 out. At the built-in
    # $ per million: 120 x 0.25 + 40 x 2 + 64 x 10 + 472 x 40 = 30 + 80 + 640 + 18,880 = 19,630 micro-dollars.
    assert turn is not None and turn.cost_micros == 19_630 and turn.cost_reserved_micros == 0
    embed = harness.discord.messages[draw.original_message_id].embeds[0]
    assert "Cost $0.020." in embed["footer"]["text"]
    # The cost comes from the response's real usage, mainline and image tokens.
    assert turn.usage.image_output_tokens > 0 and turn.usage.input_tokens > 0


async def test_over_budget_is_refused_privately_before_any_call(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.05")
    draw = await harness.command(running, "draw", {"prompt": "a fox", "quality": "high"})
    assert draw.ephemeral
    text = harness.discord.messages[draw.original_message_id].content
    assert "daily image budget of $0.050" in text
    assert posts(harness) == 0


async def test_blocked_and_failed_jobs_cost_nothing(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.30")
    harness.openai.add_fault(Fault.moderation_400())
    blocked = await harness.command(running, "draw", {"prompt": "x", "quality": "low"})
    turn = await running.store.turn_for_interaction(blocked.id)
    assert turn is not None and turn.status == "failed" and (turn.cost_micros, turn.cost_reserved_micros) == (0, 0)
    # The blocked job's reservation was released, so the budget still admits the next one.
    ok = await harness.command(running, "draw", {"prompt": "y", "quality": "low"})
    assert harness.discord.messages[ok.original_message_id].attachments


async def test_concurrent_jobs_never_overspend(harness: Harness) -> None:
    running = await harness.start_bot(MAX_JOBS_PER_USER="20", BUDGET_USER_DAILY_USD="0.10", PARTIAL_IMAGES="0")
    # The estimate of a low 1024x1024 without previews: 4,000 x 0.25 + 1,000 x 2 + 200 x 10 + 272 x 40 = 15,880
    # micro-dollars, so 100,000 // 15,880 = 6 fit in $0.10.
    fits = 6
    interactions = await asyncio.gather(*(
        harness.discord.invoke_slash("draw", {"prompt": f"n{i}", "quality": "low", "size": "1024x1024"})
        for i in range(8)
    ))
    await asyncio.gather(*(running.tracker.wait(i.id) for i in interactions))
    await running.bot.service.wait_idle()
    refused = [i for i in interactions if i.ephemeral]
    assert len(interactions) - len(refused) == fits == posts(harness)
    spent = await running.store.spend(since=datetime(2000, 1, 1, tzinfo=UTC), user_id=harness.discord.user_id)
    assert spent <= 100_000


async def test_member_in_flight_limit(harness: Harness) -> None:
    running = await harness.start_bot(MAX_JOBS_PER_USER="1")
    harness.openai.queue_script(ImageScript(event_delay=0.05))
    first = await harness.discord.invoke_slash("draw", {"prompt": "slow"})
    await harness.discord.wait_for(lambda: posts(harness) == 1, what="the first job to start")
    second = await harness.command(running, "draw", {"prompt": "impatient"})
    assert second.ephemeral and "already have 1 image in progress" in (
        harness.discord.messages[second.original_message_id].content
    )
    await running.tracker.wait(first.id)
    third = await harness.command(running, "draw", {"prompt": "after"})
    assert not third.ephemeral


async def test_queue_position_is_shown_and_jobs_run_in_turn(harness: Harness) -> None:
    running = await harness.start_bot(MAX_CONCURRENT_JOBS="1")
    harness.openai.queue_script(ImageScript(event_delay=0.05))
    first = await harness.discord.invoke_slash("draw", {"prompt": "first"})
    await harness.discord.wait_for(lambda: posts(harness) == 1, what="the first job to start")
    second = await harness.discord.invoke_slash("draw", {"prompt": "second"}, user_id=harness.discord.other_user_id)
    await asyncio.gather(running.tracker.wait(first.id), running.tracker.wait(second.id))
    versions = harness.discord.messages[second.original_message_id].versions()
    assert any("you're next" in v.content for v in versions)
    assert versions[-1].attachments  # and then it ran
    assert posts(harness) == 2
