"""Fault injection on the Discord side: rate limits, expired tokens, size limits, refusals, deleted replies."""

from __future__ import annotations

import datetime

import discord

from tests.fakes.discord_state import MESSAGE, ORIGINAL, FakeInteraction
from tests.fakes.images import close_color, decode
from tests.fakes.openai_server import FakeOpenAI, ImageScript
from tests.harness import Harness


def final_of(harness: Harness, interaction: FakeInteraction) -> tuple[bytes, dict]:
    message = harness.discord.messages[interaction.original_message_id]
    [attachment] = message.attachments
    [embed] = message.embeds
    return attachment.data, embed


async def test_429_on_preview_edits_is_waited_out(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.discord.inject_429("PATCH", ORIGINAL, times=2, retry_after=0.2)
    harness.openai.queue_script(ImageScript(final_color=(0, 90, 0), event_delay=0.02))
    draw = await harness.command(running, "draw", {"prompt": "moss"})
    data, _ = final_of(harness, draw)
    assert decode(data).center[:3] == (0, 90, 0)
    assert [c.status for c in harness.discord.route_calls("PATCH", ORIGINAL)].count(429) == 2


async def test_previews_are_paced_and_the_final_is_never_dropped(harness: Harness) -> None:
    # An interval far longer than the job: whatever the machine's speed, the first preview goes out at once, the
    # later ones wait for the interval and are dropped when the final arrives. (The spacing itself is pinned with
    # a fake clock in tests/bot/core/test_pacing.py.)
    harness.env.update(PREVIEW_INTERVAL="60", PARTIAL_IMAGES="3")
    running = await harness.start_bot()
    harness.openai.queue_script(
        # event_delay: each event in its own chunk, so the bot's loop turns between them
        ImageScript(final_color=(1, 1, 1), partial_colors=[(10, 0, 0), (20, 0, 0), (30, 0, 0)], event_delay=0.02)
    )
    draw = await harness.command(running, "draw", {"prompt": "dots"})
    versions = harness.discord.messages[draw.original_message_id].versions()
    previews = [v for v in versions if v.attachments and not v.embeds]
    assert [decode(p.attachments[0].data).center[:3] for p in previews] == [(10, 0, 0)]  # the first shows at once
    assert decode(versions[-1].attachments[0].data).center[:3] == (1, 1, 1)


async def test_job_outliving_the_interaction_token_still_delivers(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=(200, 200, 0), event_delay=0.05))
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "sun"})
    await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1, what="status")
    # 16 minutes pass for both Discord and the bot: the interaction token is dead.
    harness.discord.advance(16 * 60)
    running.bot.clock = lambda: discord.utils.utcnow() + datetime.timedelta(minutes=16)
    patches_before = len(harness.discord.route_calls("PATCH", ORIGINAL))
    await running.tracker.wait(interaction.id)

    data, embed = final_of(harness, interaction)
    assert decode(data).center[:3] == (200, 200, 0) and "sun" in embed["description"]
    assert len(harness.discord.route_calls("PATCH", ORIGINAL)) == patches_before  # never used after expiry
    assert harness.discord.route_calls("PATCH", MESSAGE)  # the bot's own route delivered it
    head = await running.store.get_head(interaction.original_message_id)
    assert head is not None and head.status == "done"


async def test_unknown_webhook_inside_the_window_falls_back(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=(0, 0, 77), event_delay=0.02))
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "ink"})
    await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1, what="status")
    harness.discord.fail_next("PATCH", ORIGINAL, 404, 10015, "Unknown Webhook", times=1)
    await running.tracker.wait(interaction.id)
    data, _ = final_of(harness, interaction)
    assert decode(data).center[:3] == (0, 0, 77)
    assert harness.discord.route_calls("PATCH", MESSAGE)


async def test_final_over_the_upload_limit_is_reencoded(harness: Harness, fake_openai: FakeOpenAI) -> None:
    fake_openai.pixel_scale = 1.0  # a real 1024x1024 image
    running = await harness.start_bot(PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(180, 40, 90)))
    draw = await harness.command(running, "draw", {"prompt": "a big one"}, attachment_size_limit=2000)
    original = harness.openai.generations[-1].final_image
    assert len(original) > 2000
    data, embed = final_of(harness, draw)
    image = decode(data)
    assert len(data) <= 2000 and image.format == "WEBP" and close_color(image.center[:3], (180, 40, 90))
    assert "to fit Discord's" in embed["footer"]["text"]


async def test_refused_final_is_kept_and_delivered_after_restart(harness: Harness) -> None:
    first = await harness.start_bot(PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(66, 0, 66)))
    # Posting the finished image is refused (e.g. Attach Files was taken away); the status line edit worked.
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "plum"})
    await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1, what="status")
    harness.discord.fail_next("PATCH", ORIGINAL, 403, 50013, "Missing Permissions", times=1)
    await first.tracker.wait(interaction.id)
    reply = harness.discord.messages[interaction.original_message_id]
    assert "couldn't post it" in reply.content and not reply.attachments
    assert await first.store.outbox_size() == 1
    turn = await first.store.turn_for_interaction(interaction.id)
    assert turn is not None and turn.status == "delivering"
    await harness.stop_bot(first)

    second = await harness.start_bot()
    await second.bot.recovered.wait()
    data, embed = final_of(harness, interaction)
    assert decode(data).center[:3] == (66, 0, 66)
    assert "after the bot restarted" in embed["footer"]["text"]
    assert await second.store.outbox_size() == 0
    head = await second.store.get_head(interaction.original_message_id)  # the thread opened on delivery
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id
    assert len(harness.openai.generations) == 1  # delivered from storage, not generated again


async def test_deleted_reply_gets_a_new_message(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=(3, 100, 100), event_delay=0.03))
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "teal"})
    await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1, what="status")
    harness.discord.messages[interaction.original_message_id].deleted = True  # a moderator deleted it
    await running.tracker.wait(interaction.id)
    posted = [m for m in harness.discord.messages.values()
              if m.attachments and m.embeds and not m.deleted and m.channel_id == harness.discord.text_channel_id]
    [message] = posted
    assert decode(message.attachments[0].data).center[:3] == (3, 100, 100)
    head = await running.store.get_head(message.id)
    assert head is not None and head.reply_message_id == message.id


async def test_edit_in_archived_thread_still_works(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "boat"})
    thread_id = draw.original_message_id
    await harness.discord.archive_thread(thread_id)
    edit = await harness.command(running, "edit", {"instruction": "add sails"}, channel_id=thread_id)
    assert harness.discord.messages[edit.original_message_id].attachments
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id


async def test_shutdown_interrupts_running_jobs_and_refuses_new_ones(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(event_delay=0.5))
    slow = await harness.discord.invoke_slash("draw", {"prompt": "slow"})
    await harness.discord.wait_for(
        lambda: any(r.path == "/v1/responses" for r in harness.openai.requests), what="the job to start"
    )
    await running.bot.service.shutdown(grace=0.2)
    # The job was cancelled; its reply says so.
    assert "interrupted" in harness.discord.messages[slow.original_message_id].content
    turn = await running.store.turn_for_interaction(slow.id)
    assert turn is not None and turn.status == "interrupted"

    late = await harness.command(running, "draw", {"prompt": "too late"})
    assert late.ephemeral and "restarting" in harness.discord.messages[late.original_message_id].content
    assert len([r for r in harness.openai.requests if r.path == "/v1/responses"]) == 1


async def test_discord_server_error_on_an_edit_is_retried(harness: Harness) -> None:
    running = await harness.start_bot(PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(44, 44, 44), event_delay=0.02))
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "grey"})
    await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1, what="status")
    harness.discord.fail_next("PATCH", ORIGINAL, 500, 0, "Internal Server Error", times=1)
    await running.tracker.wait(interaction.id)
    data, _ = final_of(harness, interaction)
    assert decode(data).center[:3] == (44, 44, 44)
    assert 500 in [c.status for c in harness.discord.route_calls("PATCH", ORIGINAL)]
