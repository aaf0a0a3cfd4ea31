"""Where the bot can't open a thread, the channel itself carries the conversation."""

from __future__ import annotations

from tests.fakes.images import decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness


def responses_bodies(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def assert_channel_chain(harness: Harness, channel_id: int, **invoke: object) -> None:
    """/draw then /edit in `channel_id`: both posted there, the edit continues the draw."""
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(final_color=(120, 0, 120)))
    draw = await harness.command(running, "draw", {"prompt": "a violet fox"}, channel_id=channel_id, **invoke)
    reply = harness.discord.messages[draw.original_message_id]
    assert reply.channel_id == channel_id
    assert decode(reply.attachments[0].data).center[:3] == (120, 0, 120)
    threads_before = len(harness.discord.threads())
    chain = await running.store.get_chain(channel_id)
    assert chain is not None and chain.kind == "channel"
    first = harness.openai.generations[-1].response_id

    edit = await harness.command(running, "edit", {"instruction": "give it wings"}, channel_id=channel_id,
                                 **invoke)
    assert responses_bodies(harness)[-1]["previous_response_id"] == first
    assert harness.discord.messages[edit.original_message_id].channel_id == channel_id
    assert len(harness.discord.threads()) == threads_before  # no thread was opened
    head = await running.store.get_head(channel_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id


async def test_thread_started_by_a_member(harness: Harness) -> None:
    fd = harness.discord
    thread_id = await fd.create_user_thread(fd.text_channel_id, "cats", fd.user_id)
    await assert_channel_chain(harness, thread_id)


async def test_forum_post(harness: Harness) -> None:
    post_id = await harness.discord.create_forum_post("show your art", harness.discord.user_id)
    await assert_channel_chain(harness, post_id)


async def test_direct_message(harness: Harness) -> None:
    dm = harness.discord.dm_channel_id(harness.discord.user_id)
    await assert_channel_chain(harness, dm, guild=False)


async def test_text_channel_without_thread_permission(harness: Harness) -> None:
    fd = harness.discord
    fd.deny_permission(fd.text_channel_id, "create_public_threads")
    await assert_channel_chain(harness, fd.text_channel_id)


async def test_edit_without_image_in_member_thread_with_no_chain_is_private(harness: Harness) -> None:
    running = await harness.start_bot()
    fd = harness.discord
    thread_id = await fd.create_user_thread(fd.text_channel_id, "chat", fd.user_id)
    edit = await harness.command(running, "edit", {"instruction": "bluer"}, channel_id=thread_id)
    assert edit.ephemeral and responses_bodies(harness) == []


async def test_thread_creation_failure_falls_back_to_the_channel(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    fd.fail_next("POST", "/channels/{channel_id}/messages/{message_id}/threads", 403, 50013, "Missing Permissions")
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    reply = fd.messages[draw.original_message_id]
    assert reply.attachments and reply.embeds  # the image still arrived
    assert fd.threads() == []
    chain = await running.store.get_chain(fd.text_channel_id)
    assert chain is not None and chain.kind == "channel"
    head = await running.store.get_head(fd.text_channel_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id
