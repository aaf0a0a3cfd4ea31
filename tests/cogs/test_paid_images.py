"""A finished image is paid for: it is posted even when the stream breaks before `response.completed`, and a
Cancel pressed once it exists is too late to lose it."""

from __future__ import annotations

import asyncio

from bot.core.models import TurnResult
from tests.fakes.images import decode
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness

FINAL = (10, 150, 90)
# With a reasoning mainline model and 2 previews the stream goes: created, in_progress, the reasoning item (added,
# done), the image item added, in_progress, generating, preview 1, preview 2, completed, the image item done (11
# events), then the text message and response.completed.
AFTER_THE_IMAGE = 11


async def test_a_stream_that_breaks_after_the_finished_image_still_posts_it(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=FINAL))
    harness.openai.add_fault(Fault.drop(after_event=AFTER_THE_IMAGE))
    draw = await harness.command(running, "draw", {"prompt": "a pond"})

    reply = harness.discord.messages[draw.original_message_id]
    assert decode(reply.attachments[0].data).center[:3] == FINAL
    [embed] = reply.embeds
    assert "broke after the image was finished" in embed["footer"]["text"]
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done"
    assert turn.response_id is not None and turn.response_id.startswith("resp_")
    assert turn.cost_micros > 0  # never free: at least the price list's amount for the image
    head = await running.store.get_head(draw.original_message_id)  # type: ignore[arg-type]
    assert head is not None and head.id == turn.id

    # OpenAI never stored that response; an /edit carries on from the posted image instead.
    harness.openai.queue_script(ImageScript(final_color=(200, 200, 0)))
    edit = await harness.command(running, "edit", {"instruction": "add a duck"},
                                 channel_id=draw.original_message_id)
    edited = harness.discord.messages[edit.original_message_id]
    assert decode(edited.attachments[0].data).center[:3] == (200, 200, 0)
    bodies = [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]
    assert "previous_response_id" not in bodies[-1]
    assert any(part["type"] == "input_image" for part in bodies[-1]["input"][0]["content"])


async def test_cancel_after_the_image_arrived_is_too_late_and_the_image_is_posted(harness: Harness) -> None:
    running = await harness.start_bot()
    release = asyncio.Event()
    harness.openai.queue_script(ImageScript(final_color=FINAL, hold_completed=release))
    draw = await harness.discord.invoke_slash("draw", {"prompt": "a pond"})
    await harness.discord.wait_for(lambda: any(kind == "final" for _, kind, _, _ in harness.openai.event_log),
                                   what="the finished image went out")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    # The bot has taken the finished image in (response.completed is still held back).
    await harness.discord.wait_for(lambda: turn.id in running.bot.service._delivering, what="the image arrived")
    cancel = await harness.discord.invoke_component(draw.original_message_id, f"tp:cancel:{turn.id}")
    await harness.discord.wait_for(lambda: cancel.original_message_id in harness.discord.messages,
                                   what="the answer to Cancel")
    release.set()
    await running.tracker.wait(draw.id)

    assert cancel.ephemeral and "already finished" in harness.discord.messages[cancel.original_message_id].content
    reply = harness.discord.messages[draw.original_message_id]
    assert decode(reply.attachments[0].data).center[:3] == FINAL
    done = await running.store.get_turn(turn.id)
    assert done is not None and done.status == "done"


async def test_the_finished_image_is_in_the_outbox_before_the_response_completes(harness: Harness) -> None:
    running = await harness.start_bot()
    release = asyncio.Event()
    harness.openai.queue_script(ImageScript(final_color=FINAL, hold_completed=release))
    stashed = asyncio.Event()
    saved_with: list[bytes | None] = []
    stash, save = running.store.stash_image, running.store.save_result

    async def stash_image(turn_id: int, image: bytes, fmt: str) -> None:
        await stash(turn_id, image, fmt)
        stashed.set()

    async def save_result(turn_id: int, result: TurnResult, image: bytes | None, fmt: str) -> None:
        saved_with.append(image)
        await save(turn_id, result, image, fmt)

    running.store.stash_image = stash_image  # type: ignore[method-assign]
    running.store.save_result = save_result  # type: ignore[method-assign]
    draw = await harness.discord.invoke_slash("draw", {"prompt": "a pond"})
    # The outbox write overlaps the wait for response.completed, which OpenAI is still holding back.
    await asyncio.wait_for(stashed.wait(), 10)
    assert not release.is_set() and await running.store.outbox_size() == 1
    assert await running.store.pending_deliveries() == []  # not to be delivered before the response completes
    release.set()
    await running.tracker.wait(draw.id)

    assert decode(harness.discord.messages[draw.original_message_id].attachments[0].data).center[:3] == FINAL
    assert saved_with == [None]  # the result did not write the image a second time
    assert await running.store.outbox_size() == 0
