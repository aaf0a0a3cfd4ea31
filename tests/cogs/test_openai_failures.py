"""Fault injection on the OpenAI side: every failure ends in one clear message, nothing is double-billed."""

from __future__ import annotations

import logging

import pytest

from tests.clock import FakeClock
from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import decode
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness, RunningBot


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def reply_text(harness: Harness, interaction: FakeInteraction) -> str:
    return harness.discord.messages[interaction.original_message_id].content


async def thread_with_image(harness: Harness, running: RunningBot) -> tuple[int, str]:
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    head = await running.store.get_head(draw.original_message_id)
    assert head is not None and head.response_id is not None
    return draw.original_message_id, head.response_id


async def assert_failed_edit_keeps_head(harness: Harness, fault: Fault, expected: str) -> FakeInteraction:
    """An /edit that hits `fault`: the reply explains, the turn is failed, the head does not move."""
    running = await harness.start_bot()
    thread_id, head_response = await thread_with_image(harness, running)
    harness.openai.add_fault(fault)
    edit = await harness.command(running, "edit", {"instruction": "add a storm"}, channel_id=thread_id)
    text = reply_text(harness, edit)
    assert text.startswith("❌") and expected in text, text
    reply = harness.discord.messages[edit.original_message_id]
    assert not reply.attachments and not reply.embeds
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == head_response
    [turn] = [t for t in await running.store.list_turns(thread_id) if t.interaction_id == edit.id]
    assert turn.status == "failed"
    return edit


@pytest.mark.parametrize(
    "fault",
    [
        Fault.moderation_400(categories=("violence",), stage="input"),
        Fault.image_failed(categories=("violence",), stage="input"),
    ],
    ids=["http-400", "failed-image-item"],
)
async def test_moderation_block_is_explained_and_not_retried(harness: Harness, fault: Fault) -> None:
    await assert_failed_edit_keeps_head(harness, fault, "blocked by OpenAI's safety system")
    assert len(posts(harness)) == 2  # the draw and the one blocked edit: no retry
    assert "violence" in reply_text(harness, harness.discord.interactions[max(harness.discord.interactions)])


async def test_response_failed_policy_violation(harness: Harness) -> None:
    await assert_failed_edit_keeps_head(
        harness, Fault.response_failed(code="image_content_policy_violation", message="no"), "blocked"
    )
    assert len(posts(harness)) == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault.nested_error(after_event=7),
        Fault.flat_error(after_event=7),
        Fault.response_failed(after_event=7, code="server_error", message="Image generation failed."),
    ],
    ids=["nested-error", "flat-error", "response-failed"],
)
async def test_stream_error_events_fail_without_retry(harness: Harness, fault: Fault) -> None:
    await assert_failed_edit_keeps_head(harness, fault, "OpenAI had a problem")
    assert len(posts(harness)) == 2  # an image may have been billed: never retried automatically


async def test_dropped_stream_fails_without_retry(harness: Harness) -> None:
    await assert_failed_edit_keeps_head(harness, Fault.drop(after_event=8), "connection to OpenAI broke")
    assert len(posts(harness)) == 2


async def test_stalled_stream_is_given_up(harness: Harness) -> None:
    harness.env["STREAM_IDLE_TIMEOUT"] = "0.3"
    await assert_failed_edit_keeps_head(harness, Fault.stall(seconds=3, after_event=5), "stopped sending")
    assert len(posts(harness)) == 2


async def test_rate_limit_waits_for_retry_after_then_succeeds(harness: Harness) -> None:
    clock = FakeClock()
    # Retry-After (7 s) is longer than any back-off the bot would pick itself (RETRY_BASE_DELAY=1: at most 1 s).
    running = await harness.start_bot(sleep=clock.sleep)
    harness.openai.add_fault(Fault.rate_limited(retry_after=7, times=1))
    harness.openai.queue_script(ImageScript(final_color=(5, 200, 5)))
    draw = await harness.command(running, "draw", {"prompt": "a frog"})
    first, second = [r for r in harness.openai.requests if r.path == "/v1/responses"]
    assert first.status == 429 and second.status == 200
    reply = harness.discord.messages[draw.original_message_id]
    assert any("Trying again in 7 s" in v.content and "rate limit" in v.content for v in reply.versions())
    assert clock.slept == [7.0]  # exactly what OpenAI asked for
    assert decode(reply.attachments[0].data).center[:3] == (5, 200, 5)
    assert second.retry_count == 0  # our retry, not the SDK's hidden one


async def test_rate_limit_that_persists_ends_in_a_clear_message(harness: Harness) -> None:
    harness.env.update(RETRY_ATTEMPTS="2")
    clock = FakeClock()
    running = await harness.start_bot(sleep=clock.sleep)
    harness.openai.add_fault(Fault.rate_limited(retry_after=30, times=2))
    draw = await harness.command(running, "draw", {"prompt": "a frog"})
    assert len(posts(harness)) == 2
    assert reply_text(harness, draw).startswith("❌ OpenAI is busy right now (rate limit)")
    assert clock.slept == [30.0]  # one wait between the two tries, none after the last


async def test_a_retry_after_over_a_minute_is_not_waited_for(harness: Harness) -> None:
    clock = FakeClock()
    running = await harness.start_bot(sleep=clock.sleep)
    harness.openai.add_fault(Fault.rate_limited(retry_after=61, times=1))  # MAX_RETRY_AFTER is 60 s
    draw = await harness.command(running, "draw", {"prompt": "a frog"})
    assert len(posts(harness)) == 1
    assert clock.slept == []  # the job is not held for a minute and more without a word
    assert reply_text(harness, draw).startswith("❌ OpenAI is busy right now (rate limit)")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.cost_micros == 0


async def test_insufficient_quota_is_not_retried_and_tells_the_owner(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    running = await harness.start_bot()
    harness.openai.add_fault(Fault.insufficient_quota())
    with caplog.at_level(logging.ERROR):
        draw = await harness.command(running, "draw", {"prompt": "a frog"})
    assert len(posts(harness)) == 1
    assert "out of credit" in reply_text(harness, draw)
    assert any(r.levelno == logging.ERROR and "insufficient_quota" in r.getMessage() for r in caplog.records)


async def test_server_error_before_the_stream_is_retried_once(harness: Harness) -> None:
    clock = FakeClock()
    running = await harness.start_bot(sleep=clock.sleep)
    harness.openai.add_fault(Fault.server_error(status=500, times=1))
    harness.openai.queue_script(ImageScript(final_color=(9, 9, 250)))
    draw = await harness.command(running, "draw", {"prompt": "a whale"})
    assert [r.status for r in harness.openai.requests if r.path == "/v1/responses"] == [500, 200]
    [waited] = clock.slept
    assert 0.5 <= waited <= 1.0  # RETRY_BASE_DELAY (1 s) with full jitter down to half
    reply = harness.discord.messages[draw.original_message_id]
    assert decode(reply.attachments[0].data).center[:3] == (9, 9, 250)
    assert len(harness.openai.generations) == 1


async def test_expired_conversation_continues_from_the_last_image(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=(250, 120, 0)))
    thread_id, head_response = await thread_with_image(harness, running)
    harness.openai.forget_response(head_response)  # OpenAI keeps stored responses for 30 days

    edit = await harness.command(running, "edit", {"instruction": "add snow"}, channel_id=thread_id)

    expired, reseeded = posts(harness)[1:]
    assert expired["previous_response_id"] == head_response
    assert "previous_response_id" not in reseeded
    [last_image] = harness.openai.generations[-1].input_images
    assert decode(last_image).center[:3] == pytest.approx((250, 120, 0), abs=8)
    reply = harness.discord.messages[edit.original_message_id]
    assert "no longer had this conversation" in reply.embeds[0]["footer"]["text"]
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id


@pytest.mark.parametrize(("setting", "model"), [("OPENAI_MODEL", "gpt-retired"), ("IMAGE_MODEL", "gpt-image-1")])
async def test_unknown_model_names_the_setting(harness: Harness, setting: str, model: str) -> None:
    running = await harness.start_bot(**{setting: model})
    draw = await harness.command(running, "draw", {"prompt": "a frog"})
    assert setting in reply_text(harness, draw)
    assert len(posts(harness)) == 1


async def test_duplicate_interaction_is_handled_once(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(event_delay=0.02))
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "a frog"})
    await harness.discord.dispatch("INTERACTION_CREATE", interaction.payload)  # Discord delivers it again
    await harness.discord.wait_for(lambda: len(harness.openai.generations) == 1, what="the generation")
    await harness.discord.wait_for(
        lambda: bool(harness.discord.messages[interaction.original_message_id or 0].embeds), what="the final image"
    )
    await running.bot.service.wait_idle()
    assert interaction.id not in running.tracker.errors
    assert len(posts(harness)) == 1
    assert len(harness.openai.generations) == 1


async def test_text_refusal_without_an_image_is_explained_and_not_retried(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(call_tool=False, text="I can't draw that."))
    draw = await harness.command(running, "draw", {"prompt": "something odd"})
    assert "without making an image" in reply_text(harness, draw)
    assert len(posts(harness)) == 1
