"""Delivering a paid-for image when Discord refuses: a new message where possible, a DM when the channel is gone,
and a turn that never stays "delivering"."""

from __future__ import annotations

import datetime

import discord

from tests.bot.storage.test_privacy import sql
from tests.fakes.images import decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot

MESSAGE = "/channels/{channel_id}/messages/{message_id}"
ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"


async def expire_token(harness: Harness, running: RunningBot) -> None:
    """16 minutes pass for both Discord and the bot: the interaction token is dead."""
    harness.discord.advance(16 * 60)
    running.bot.clock = lambda: discord.utils.utcnow() + datetime.timedelta(minutes=16)


async def no_wait(_seconds: float) -> None:
    return None


async def test_refused_edit_after_token_expiry_posts_a_new_message(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(9, 90, 190), event_delay=0.05))
    draw = await fd.invoke_slash("draw", {"prompt": "a harbour"})
    await fd.wait_for(lambda: len(fd.route_calls("PATCH", ORIGINAL)) >= 1, what="the status line")
    await expire_token(harness, running)
    fd.fail_next("PATCH", MESSAGE, 403, 50001, "Missing Access")
    await running.tracker.wait(draw.id)

    [posted] = [m for m in fd.messages.values() if m.attachments and m.id != draw.original_message_id]
    assert posted.channel_id == fd.text_channel_id and decode(posted.attachments[0].data).center[:3] == (9, 90, 190)
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done" and turn.reply_message_id == posted.id
    assert await running.store.outbox_size() == 0


async def test_unreachable_channel_gives_up_and_sends_the_image_by_dm(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(PARTIAL_IMAGES="0")
    waits: list[float] = []

    async def record(seconds: float) -> None:  # the retries a few minutes apart happen at once
        waits.append(seconds)

    running.bot.service.sleep = record
    harness.openai.queue_script(ImageScript(final_color=(200, 30, 30), event_delay=0.05))
    draw = await fd.invoke_slash("draw", {"prompt": "a red kite"})
    await fd.wait_for(lambda: len(fd.route_calls("PATCH", ORIGINAL)) >= 1, what="the status line")
    await expire_token(harness, running)
    fd.denied[fd.text_channel_id] = {"view_channel"}  # the bot was removed from the channel
    await running.tracker.wait(draw.id)

    dm_channel = fd.dm_channel_id(fd.user_id)
    await fd.wait_for(lambda: any(m.channel_id == dm_channel and m.attachments for m in fd.messages.values()),
                      what="the image by DM")
    [dm] = [m for m in fd.messages.values() if m.channel_id == dm_channel]
    assert decode(dm.attachments[0].data).center[:3] == (200, 30, 30) and "a red kite" in dm.content
    refused = [c for c in fd.route_calls("PATCH", MESSAGE) if c.status == 403]
    assert refused and refused[0].response["code"] == 50001
    # The turn is marked failed right after the DM went out: wait for that write (each read is a round trip).
    for _ in range(100):
        turn = await running.store.turn_for_interaction(draw.id)
        if turn is not None and turn.status != "delivering":
            break
    assert turn is not None and turn.status == "failed" and turn.error_code == "delivery"
    assert turn.delivery_attempts == 3
    assert waits == [60.0, 600.0]  # tried again 1 and 10 minutes later
    assert await running.store.outbox_size() == 0  # the member has it; nothing is left behind
    assert [m for m in fd.messages.values() if m.channel_id == fd.text_channel_id and m.attachments] == []


async def test_a_delivery_left_by_a_restart_ends_when_its_channel_was_deleted(harness: Harness) -> None:
    fd = harness.discord
    first = await harness.start_bot(PARTIAL_IMAGES="0")
    draw = await fd.invoke_slash("draw", {"prompt": "a plum"})
    await fd.wait_for(lambda: len(fd.route_calls("PATCH", ORIGINAL)) >= 1, what="the status line")
    fd.fail_next("PATCH", ORIGINAL, 403, 50013, "Missing Permissions")  # the final is refused once
    await first.tracker.wait(draw.id)
    turn = await first.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "delivering"
    await sql(first.store, "UPDATE turns SET delivery_attempts = ? WHERE id = ?", (2, turn.id))  # tried before
    await harness.stop_bot(first)
    del fd.channels[fd.text_channel_id]  # and now the channel is gone: the next start can't even look it up

    second = await harness.start_bot()
    await second.bot.recovered.wait()
    dm_channel = fd.dm_channel_id(fd.user_id)
    await fd.wait_for(lambda: any(m.channel_id == dm_channel and m.attachments for m in fd.messages.values()),
                      what="the image by DM")
    turn = await second.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.error_code == "delivery"
    assert await second.store.outbox_size() == 0


async def test_after_giving_up_the_reply_says_where_the_image_went(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(PARTIAL_IMAGES="0")

    async def refuse_the_next_try(_seconds: float) -> None:  # each retry meets the same refusal, at once
        fd.fail_next("PATCH", ORIGINAL, 403, 50013, "Missing Permissions")

    running.bot.service.sleep = refuse_the_next_try
    harness.openai.queue_script(ImageScript(final_color=(0, 160, 60), event_delay=0.05))
    draw = await fd.invoke_slash("draw", {"prompt": "a green kite"})
    await fd.wait_for(lambda: len(fd.route_calls("PATCH", ORIGINAL)) >= 1, what="the status line")
    fd.fail_next("PATCH", ORIGINAL, 403, 50013, "Missing Permissions")  # the final upload is refused
    await running.tracker.wait(draw.id)
    reply = fd.messages[draw.original_message_id]  # type: ignore[index]
    await fd.wait_for(lambda: "direct message" in reply.content, what="the reply to say where the image went")
    assert not reply.attachments
    dm_channel = fd.dm_channel_id(fd.user_id)
    [dm] = [m for m in fd.messages.values() if m.channel_id == dm_channel]
    assert decode(dm.attachments[0].data).center[:3] == (0, 160, 60)


async def test_a_reply_deleted_after_the_token_expired_gets_a_new_message(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(3, 100, 100), event_delay=0.05))
    draw = await fd.invoke_slash("draw", {"prompt": "teal"})
    await fd.wait_for(lambda: len(fd.route_calls("PATCH", ORIGINAL)) >= 1, what="the status line")
    await expire_token(harness, running)  # from now on only the bot's own routes work
    fd.messages[draw.original_message_id].deleted = True  # ... and a moderator deleted the reply
    await running.tracker.wait(draw.id)

    [posted] = [m for m in fd.messages.values() if m.attachments and m.embeds and not m.deleted]
    assert posted.id != draw.original_message_id and posted.channel_id == fd.text_channel_id
    assert decode(posted.attachments[0].data).center[:3] == (3, 100, 100)
    assert [c.status for c in fd.route_calls("PATCH", MESSAGE)] == [404]  # it tried the old one first
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done" and turn.reply_message_id == posted.id
