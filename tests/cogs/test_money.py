"""The owner's money under attack (issue 11): each test plays a malicious member or server admin through the fakes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.core.guild_settings import GuildSettings
from cogs.privacy import CONFIRM_ID
from tests.bot.storage.test_privacy import add_turn
from tests.clock import FakeClock, settle
from tests.cogs.test_privacy import ask_to_forget
from tests.fakes.discord_state import FakeInteraction
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness, RunningBot

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def text_of(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.original_message_id is not None
    return harness.discord.messages[interaction.original_message_id].content


async def refused(harness: Harness, **kwargs: object) -> FakeInteraction:
    """A /draw the bot turns away before any command runs (so there is no completion to wait for)."""
    fd = harness.discord
    draw = await fd.invoke_slash("draw", {"prompt": "a fox"}, **kwargs)  # type: ignore[arg-type]
    await fd.wait_for(lambda: draw.original_message_id is not None, what="the refusal")
    return draw


async def spent(running: RunningBot, user_id: int | None = None) -> int:
    return await running.store.spend(since=EPOCH, user_id=user_id)


# A low 1024x1024 image's estimate, by hand from the built-in prices ($ per million tokens): mainline allowance
# 4,000 x 0.25 + 1,000 x 2.00 = 3,000 micro-dollars; prompt 200 x 10 = 2,000; image (272 + 100 per preview) x 40.
LOW_ESTIMATE = {2: 23_880, 0: 15_880}  # 5,000 + 472 x 40 = 18,880; 5,000 + 272 x 40 = 10,880


def low_estimate(running: RunningBot, partials: int = 2) -> int:
    return LOW_ESTIMATE[partials]


# ---------------------------------------------------------------------------------------------- 1. no limit at all


async def test_a_fresh_install_has_a_bot_wide_cap_that_strangers_run_into(harness: Harness) -> None:
    """Other members in another server used up today's $5: nobody gets another image, and nothing is sent."""
    fd = harness.discord
    other_guild, _ = fd.add_guild("A stranger's server")
    running = await harness.start_bot()  # the defaults: nothing about money configured
    now = running.bot.clock()
    for user in range(1_000, 1_010):  # ten members, each within their own $1 a day
        await add_turn(running.store, user_id=user, chain_id=user, guild_id=other_guild, cost_micros=499_000,
                       created_at=now)
    draw = await harness.command(running, "draw", {"prompt": "one more", "quality": "low"})
    assert draw.ephemeral
    assert text_of(harness, draw) == (
        "I've reached the daily spending limit my owner set for the whole bot, so I can't make images until "
        "tomorrow (UTC). Nothing was charged."
    )
    assert posts(harness) == []


async def test_the_bot_wide_cap_holds_exactly_under_concurrency(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(MAX_JOBS_PER_USER="20", BUDGET_BOT_DAILY_USD="0.10", PARTIAL_IMAGES="0")
    fits = 100_000 // low_estimate(running, partials=0)
    assert fits == 6  # 100,000 // 15,880
    interactions = await asyncio.gather(*(
        fd.invoke_slash("draw", {"prompt": f"n{i}", "quality": "low", "size": "1024x1024"},
                        user_id=fd.user_id if i % 2 else fd.other_user_id)
        for i in range(10)
    ))
    await asyncio.gather(*(running.tracker.wait(i.id) for i in interactions))
    await running.bot.service.wait_idle()
    refused = [i for i in interactions if i.ephemeral]
    assert len(interactions) - len(refused) == fits == len(posts(harness))
    assert all("whole bot" in text_of(harness, i) for i in refused)
    assert 0 < await spent(running) <= 100_000


# ---------------------------------------------------------------------------------------------- 2. admins raise


async def test_a_server_budget_cannot_raise_the_owners(harness: Harness) -> None:
    """The admin of a server sets a $5,000 member budget; the owner's $0.05 still applies."""
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.05")
    admin = await harness.command(
        running, "threadpaint", {"scope": "member", "period": "daily", "dollars": "5000"},
        subcommand="settings budget",
    )
    draw = await harness.command(running, "draw", {"prompt": "a fox", "quality": "high"})
    assert draw.ephemeral and "your daily image budget of $0.050" in text_of(harness, draw)
    assert posts(harness) == []
    assert "$0.050 a day (the bot's limit; this server's $5,000.00 can't raise it)" in text_of(harness, admin)
    # Above $10,000 is refused as a typo.
    too_much = await harness.command(
        running, "threadpaint", {"scope": "server", "period": "daily", "dollars": "1000000"},
        subcommand="settings budget",
    )
    assert "at most $10,000.00" in text_of(harness, too_much)


# ---------------------------------------------------------------------------------------------- 3. /forget resets


async def test_forget_and_retention_never_reduce_spend(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.04")
    harness.openai.queue_script(ImageScript(image_output_tokens=600))  # about $0.024: one image fits, not two
    first = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low", "size": "1024x1024"})
    assert not first.ephemeral
    cost = await spent(running, fd.user_id)
    # 120 x 0.25 + 40 x 2 (mainline) + 64 x 10 (image input) + 600 x 40 (image output) = 30 + 80 + 640 + 24,000
    assert cost == 24_750 and cost > 40_000 - low_estimate(running)

    forget, question = await ask_to_forget(harness)
    await fd.invoke_component(question.id, CONFIRM_ID)
    await running.tracker.wait(forget.id)
    assert question.content.startswith("Done. I deleted 1 image record")
    await running.store.purge_before(running.bot.clock())  # retention, with everything old enough
    assert await running.store.list_turns(first.original_message_id) == []  # type: ignore[arg-type]

    again = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low", "size": "1024x1024"})
    assert again.ephemeral and "your daily image budget" in text_of(harness, again)
    assert len(posts(harness)) == 1
    assert await spent(running, fd.user_id) == cost
    usage = await harness.command(running, "usage")
    embed = fd.messages[usage.original_message_id].embeds[0]  # type: ignore[index]
    assert any(f["name"] == "Today" and f["value"] == "$0.025" for f in embed["fields"])  # $0.02475


# ---------------------------------------------------------------------------------------------- 4. early ends free


async def test_cancelled_after_previews_is_charged_and_says_so(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.04")
    budget = 40_000
    hold = asyncio.Event()
    harness.openai.queue_script(ImageScript(hold_final=hold))
    draw = await fd.invoke_slash("draw", {"prompt": "a fox", "quality": "low", "size": "1024x1024"})
    await fd.wait_for(lambda: draw.original_message_id is not None and any(
        v.attachments for v in fd.messages[draw.original_message_id].versions()), what="a preview")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    await fd.wait_for(lambda: bool(fd.messages[draw.original_message_id].components), what="the Cancel button")
    click = await fd.invoke_component(draw.original_message_id, f"tp:cancel:{turn.id}")  # type: ignore[arg-type]
    await running.tracker.wait_any(click.id)
    await running.tracker.wait(draw.id)
    hold.set()

    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.cost_micros > 0
    # Both previews had arrived (the fake holds only the finished image): the whole image is charged.
    # Mainline allowance 3,000 + prompt 200 x 10 = 2,000 + (272 + 2 x 100) x 40 = 18,880 micro-dollars.
    charge = 23_880
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.cost_micros == charge
    assert text_of(harness, draw).endswith("Nothing was posted. OpenAI had already started on it, so it cost "
                                           "$0.024.")
    assert await spent(running, fd.user_id) == charge
    # The cancelled job used the budget like the image it nearly was: a second one no longer fits.
    assert charge + low_estimate(running) > budget
    again = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low", "size": "1024x1024"})
    assert again.ephemeral and "your daily image budget" in text_of(harness, again)


async def test_failed_mid_stream_is_charged_but_blocked_before_is_free(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.add_fault(Fault.moderation_400())
    blocked = await harness.command(running, "draw", {"prompt": "x", "quality": "low"})
    assert await spent(running, fd.user_id) == 0 and "cost" not in text_of(harness, blocked)

    harness.openai.add_fault(Fault.nested_error(after_event=5))  # after response.created, before any preview
    failed = await harness.command(running, "draw", {"prompt": "y", "quality": "low", "size": "1024x1024"})
    assert await spent(running, fd.user_id) > 0
    # No preview yet: the mainline allowance 4,000 x 0.25 + 1,000 x 2 = 3,000 and the prompt 200 x 10 = 2,000.
    assert await spent(running, fd.user_id) == 5_000
    assert text_of(harness, failed).endswith("OpenAI had already started on it, so it cost $0.005.")


# ---------------------------------------------------------------------------------------------- 5. $0 images


async def test_a_delivered_image_is_never_cheaper_than_its_price(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    # The image's floor: (272 + 2 previews x 100) x $40 per million = 18,880 micro-dollars; the mainline's real
    # usage (120 in x 0.25 + 40 out x 2 = 110) comes on top, and the tool's input when reported (64 x 10 = 640).
    expected = {"absent": (18_990, "$0.019"), "partial": (19_630, "$0.020")}
    for shape, (micros, shown) in expected.items():
        harness.openai.queue_script(ImageScript(tool_usage=shape))  # type: ignore[arg-type]
        draw = await harness.command(running, "draw", {"prompt": shape, "quality": "low", "size": "1024x1024"})
        turn = await running.store.turn_for_interaction(draw.id)
        assert turn is not None and turn.status == "done"
        assert turn.cost_micros == micros, shape
        footer = fd.messages[draw.original_message_id].embeds[0]["footer"]["text"]  # type: ignore[index]
        assert f"Cost {shown}." in footer


# ---------------------------------------------------------------------------------------------- 6. DMs


async def test_dms_can_be_switched_off(harness: Harness) -> None:
    running = await harness.start_bot(ALLOW_DMS="false")
    draw = await refused(harness, guild=False)
    assert draw.ephemeral and text_of(harness, draw) == (
        "I don't take commands in direct messages. Please use me in a server."
    )
    assert posts(harness) == [] and await running.store.turn_for_interaction(draw.id) is None


async def test_dms_count_against_the_members_bot_wide_budget(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()  # default member budget: $1 a day, over every server and DM
    await add_turn(running.store, user_id=fd.user_id, chain_id=1, cost_micros=990_000,
                   created_at=running.bot.clock())
    draw = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low"}, guild=False)
    assert draw.ephemeral and "your daily image budget of $1.00" in text_of(harness, draw)
    assert posts(harness) == []


async def test_all_dms_share_one_queue_lane(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(MAX_CONCURRENT_JOBS="1")
    hold = asyncio.Event()
    harness.openai.queue_script(ImageScript(hold_final=hold))
    first = await fd.invoke_slash("draw", {"prompt": "server first"})
    await fd.wait_for(lambda: len(posts(harness)) == 1, what="the first job to start")
    waiting = []
    for prompt, user, guild in (("dm bob", fd.other_user_id, False), ("dm alice", fd.user_id, False),
                                ("server bob", fd.other_user_id, True)):
        waiting.append(await fd.invoke_slash("draw", {"prompt": prompt}, user_id=user, guild=guild))
        queued = len(waiting)
        await fd.wait_for(lambda: running.bot.service.queue.waiting == queued, what="the job to queue")  # noqa: B023
    hold.set()
    await asyncio.gather(*(running.tracker.wait(i.id) for i in [first, *waiting]))
    order = [body["input"][0]["content"][0]["text"] for body in posts(harness)]
    # The server's job goes before the second DM: DMs together count as one server, not one each.
    assert order == ["server first", "dm bob", "server bob", "dm alice"]


# ---------------------------------------------------------------------------------------------- 7. moderation


async def test_a_server_cannot_lower_moderation_unless_the_owner_allows(harness: Harness) -> None:
    running = await harness.start_bot()
    admin = await harness.command(running, "threadpaint", {"level": "low"}, subcommand="settings moderation")
    assert "owner has not allowed lower moderation" in text_of(harness, admin)
    guild_id = harness.discord.guild_id
    assert (await running.store.get_guild_settings(guild_id)).moderation == "auto"
    # A value stored earlier (or written some other way) is still not applied.
    await running.store.set_guild_settings(guild_id, GuildSettings(moderation="low"), 1)
    await harness.command(running, "draw", {"prompt": "a fox"})
    assert "moderation" not in posts(harness)[-1]["tools"][0]
    await harness.stop_bot(running)

    allowed = await harness.start_bot(ALLOW_LOW_MODERATION="true")
    await harness.command(allowed, "draw", {"prompt": "a fox"})
    assert posts(harness)[-1]["tools"][0]["moderation"] == "low"


# ---------------------------------------------------------------------------------------------- 8. deadline


async def test_a_job_that_never_finishes_fails_at_the_deadline(harness: Harness) -> None:
    """An upstream that keeps sending something well inside the idle timeout but never finishes the image."""
    fd = harness.discord
    clock = FakeClock()
    running = await harness.start_bot(JOB_DEADLINE="600", PARTIAL_IMAGES="1")
    running.bot.service.call_later = clock.call_later
    never = asyncio.Event()
    harness.openai.queue_script(ImageScript(hold_final=never, trickle=0.05))
    draw = await fd.invoke_slash("draw", {"prompt": "forever", "quality": "low", "size": "1024x1024"})
    await fd.wait_for(lambda: bool(clock.timers) and draw.original_message_id is not None
                      and bool(fd.messages[draw.original_message_id].attachments),
                      what="the preview, under the job's deadline")
    [timer] = clock.timers
    assert timer.when == clock.now() + 600
    clock.advance(599.9)
    await settle()
    assert not running.tracker.done[draw.id].is_set()  # still inside the deadline
    clock.advance(0.1)
    await running.tracker.wait(draw.id)
    text = text_of(harness, draw)
    assert text.startswith("❌ This image took too long: OpenAI had not finished it after 10 minutes, so I stopped")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.error_code == "deadline"
    # The preview had arrived: 3,000 + 2,000 + (272 + 100) x 40 = 19,880 micro-dollars.
    assert turn.cost_micros == 19_880 and text.endswith("so it cost $0.020.")
    assert running.bot.service.queue.running == 0
    never.set()


# ---------------------------------------------------------------------------------------------- allow-list


async def test_servers_not_on_the_allow_list_get_one_line_and_no_work(harness: Harness) -> None:
    fd = harness.discord
    stranger, stranger_channel = fd.add_guild("A stranger's server")
    running = await harness.start_bot(ALLOWED_GUILDS=str(fd.guild_id))
    draw = await refused(harness, channel_id=stranger_channel)
    assert draw.ephemeral and text_of(harness, draw) == (
        "This bot is private to its owner's servers, so it doesn't work here."
    )
    assert posts(harness) == [] and await running.store.turn_for_interaction(draw.id) is None
    assert fd.left_guilds == []  # only warned about, unless the owner asks the bot to leave
    ok = await harness.command(running, "draw", {"prompt": "a fox"})
    assert not ok.ephemeral and len(posts(harness)) == 1
    await harness.stop_bot(running)

    await harness.start_bot(ALLOWED_GUILDS=str(fd.guild_id), LEAVE_UNLISTED_GUILDS="true")
    await fd.wait_for(lambda: fd.left_guilds == [stranger], what="the bot to leave the unlisted server")


async def test_the_start_log_states_the_caps_and_warns_when_unlimited(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    running = await harness.start_bot()
    [line] = [r for r in caplog.records if r.getMessage().startswith("spending caps:")]
    assert line.levelno == logging.INFO and "whole bot $5.00 a day and $50.00 a month" in line.getMessage()
    await harness.stop_bot(running)
    caplog.clear()
    await harness.start_bot(BUDGET_BOT_MONTHLY_USD="unlimited")
    [line] = [r for r in caplog.records if r.getMessage().startswith("spending caps:")]
    assert line.levelno == logging.WARNING
    assert "BUDGET_BOT_MONTHLY_USD unlimited: anyone who can reach the bot can spend without limit" in (
        line.getMessage())


async def test_a_stream_shaped_like_the_real_service_draws_and_charges_the_floor(harness: Harness) -> None:
    """Keepalives between previews, usage without cache_write_tokens, partial tool_usage: all through the bot."""
    fd = harness.discord
    running = await harness.start_bot()
    real = ImageScript(keepalives=2, cache_write_tokens=False, tool_usage="partial")
    harness.openai.queue_script(real)
    draw = await harness.command(running, "draw", {"prompt": "a fox", "quality": "low", "size": "1024x1024"})
    reply = fd.messages[draw.original_message_id]  # type: ignore[index]
    assert reply.attachments and reply.embeds and not draw.ephemeral
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done"
    # The usage says 472 // 3 = 157 image tokens; the image's floor is 272 + 2 x 100 = 472 tokens:
    # 120 x 0.25 + 40 x 2 + 64 x 10 + 472 x 40 = 19,630 micro-dollars (the usage alone: 110 + 640 + 6,280 = 7,030).
    assert turn.usage.image_output_tokens == 157
    assert turn.cost_micros == 19_630


async def test_buttons_on_old_results_in_unlisted_servers_do_no_work(harness: Harness) -> None:
    fd = harness.discord
    _, stranger_channel = fd.add_guild("A stranger's server")
    before = await harness.start_bot()  # no allow-list yet: the bot drew there
    draw = await harness.command(before, "draw", {"prompt": "a fox"}, channel_id=stranger_channel)
    turn = await before.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done"
    await harness.stop_bot(before)

    running = await harness.start_bot(ALLOWED_GUILDS=str(fd.guild_id))
    click = await fd.invoke_component(draw.original_message_id, f"tp:reroll:{turn.id}")  # type: ignore[arg-type]
    await fd.wait_for(lambda: click.original_message_id is not None, what="the refusal")
    assert click.ephemeral and text_of(harness, click) == (
        "This bot is private to its owner's servers, so it doesn't work here."
    )
    await running.bot.service.wait_idle()
    assert len(posts(harness)) == 1
