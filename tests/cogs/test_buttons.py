"""Buttons on results: Reroll and Edit branch from that result, Cancel stops a running job; all survive restarts."""

from __future__ import annotations

from dataclasses import replace

from tests.fakes.discord_state import MEMBER_PERMISSIONS, FakeAttachment, FakeInteraction
from tests.fakes.images import decode, make_image
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def buttons(harness: Harness, message_id: int) -> list[str]:
    message = harness.discord.messages[message_id]
    return [c["custom_id"] for row in message.components for c in row.get("components", [])]


async def click(
    harness: Harness, running: RunningBot, message_id: int, custom_id: str, **kw: object
) -> FakeInteraction:
    interaction = await harness.discord.invoke_component(message_id, custom_id, **kw)  # type: ignore[arg-type]
    await running.tracker.wait_any(interaction.id)
    return interaction


async def test_result_has_edit_and_reroll_and_running_job_has_cancel(harness: Harness) -> None:
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(event_delay=0.03))
    draw = await harness.discord.invoke_slash("draw", {"prompt": "a kite"})
    await harness.discord.wait_for(
        lambda: bool(draw.original_message_id and buttons(harness, draw.original_message_id)),
        what="the status line with its button",
    )
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    assert buttons(harness, draw.original_message_id) == [f"tp:cancel:{turn.id}"]
    await running.tracker.wait(draw.id)
    assert buttons(harness, draw.original_message_id) == [f"tp:edit:{turn.id}", f"tp:reroll:{turn.id}"]


async def test_reroll_after_restart_makes_a_new_image_from_the_same_parent(harness: Harness) -> None:
    first = await harness.start_bot()
    draw = await harness.command(first, "draw", {"prompt": "a kite", "quality": "low"})
    thread_id = draw.original_message_id
    edit = await harness.command(first, "edit", {"instruction": "make it red"}, channel_id=thread_id)
    draw_turn = await first.store.turn_for_interaction(draw.id)
    edit_turn = await first.store.turn_for_interaction(edit.id)
    assert draw_turn and edit_turn
    await harness.stop_bot(first)

    second = await harness.start_bot()  # the buttons' state is in their custom ids, not in memory
    harness.openai.queue_script(ImageScript(final_color=(10, 220, 10)))
    reroll = await click(harness, second, edit.original_message_id, f"tp:reroll:{edit_turn.id}")

    body = posts(harness)[-1]
    assert body["previous_response_id"] == draw_turn.response_id  # the edit's parent, not the head
    assert body["input"][0]["content"][0]["text"] == "make it red"
    result = harness.discord.messages[reroll.original_message_id]
    assert result.channel_id == thread_id and decode(result.attachments[0].data).center[:3] == (10, 220, 10)
    head = await second.store.get_head(thread_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id
    assert head.parent_turn_id == draw_turn.id


async def test_reroll_on_the_opening_message_posts_in_the_thread(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    reroll = await click(harness, running, draw.original_message_id, f"tp:reroll:{turn.id}")
    await running.bot.service.wait_idle()
    assert reroll.ephemeral  # "On it: the new image will appear in <#thread>"
    posted = [m for m in harness.discord.messages.values()
              if m.channel_id == draw.original_message_id and m.attachments]
    assert len(posted) == 1 and decode(posted[0].attachments[0].data).format == "PNG"
    assert "previous_response_id" not in posts(harness)[-1]  # a draw rerolls fresh


async def test_cancel_stops_the_stream_and_keeps_the_head(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    thread_id = draw.original_message_id
    head_before = await running.store.get_head(thread_id)
    harness.openai.queue_script(ImageScript(event_delay=0.5))
    edit = await harness.discord.invoke_slash("edit", {"instruction": "slowly"}, channel_id=thread_id)
    await harness.discord.wait_for(lambda: len(posts(harness)) == 2, what="the edit to start streaming")
    turn = await running.store.turn_for_interaction(edit.id)
    assert turn is not None
    await click(harness, running, edit.original_message_id, f"tp:cancel:{turn.id}")
    await running.tracker.wait(edit.id)
    message = harness.discord.messages[edit.original_message_id]
    assert "Cancelled by" in message.content and not message.attachments and not message.components
    turn = await running.store.turn_for_interaction(edit.id)
    assert turn is not None and turn.status == "failed" and turn.error_code == "cancelled"
    # Once OpenAI started on it the member is charged what was made, and told so; before, it is free.
    assert ("so it cost" in message.content) == (turn.cost_micros > 0)
    head = await running.store.get_head(thread_id)
    assert head_before is not None and head is not None and head.id == head_before.id
    assert running.bot.service.queue.running == 0  # the slot was freed


async def test_edit_button_asks_for_an_instruction_and_branches_from_that_result(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    thread_id = draw.original_message_id
    await harness.command(running, "edit", {"instruction": "make it red"}, channel_id=thread_id)
    first = await running.store.turn_for_interaction(draw.id)
    assert first is not None
    # Press Edit on the first (older) result, which sits in the channel as the thread's opening message.
    press = await click(harness, running, draw.original_message_id, f"tp:edit:{first.id}")
    assert press.ack_type == 9 and press.modal is not None and press.modal["title"] == "Edit this image"
    [[field]] = [row["components"] for row in press.modal["components"]]
    submit = await harness.discord.submit_modal(press, {field["custom_id"]: "make it green instead"})
    await running.tracker.wait_any(submit.id)

    body = posts(harness)[-1]
    assert body["previous_response_id"] == first.response_id  # branched from the older result, not the head
    assert body["input"][0]["content"][0]["text"] == "make it green instead"
    assert submit.ephemeral  # "On it: the new image will appear in <#thread>"
    head = await running.store.get_head(thread_id)
    assert head is not None and head.parent_turn_id == first.id and head.status == "done"
    assert harness.discord.messages[head.reply_message_id].channel_id == thread_id  # type: ignore[index]


async def test_only_people_allowed_to_edit_may_press(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    settings = await running.store.get_guild_settings(fd.guild_id)
    await running.store.set_guild_settings(fd.guild_id, replace(settings, edit_policy="starter"), fd.user_id)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS  # no Manage Threads or Messages
    press = await click(harness, running, draw.original_message_id, f"tp:reroll:{turn.id}", user_id=fd.other_user_id)
    refusal = fd.messages[press.original_message_id].content
    assert press.ephemeral and "only the person who started this thread" in refusal
    assert len(posts(harness)) == 1
    # The starter may.
    mine = await click(harness, running, draw.original_message_id, f"tp:reroll:{turn.id}")
    assert len(posts(harness)) == 2 and mine.ephemeral


async def test_edit_image_message_command_starts_a_thread_from_any_image(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    upload = make_image((240, 10, 200), (32, 32))
    posted = await fd.send_user_message(fd.text_channel_id, "look at my cat")
    attachment = FakeAttachment(9_999, "cat.png", "image/png", upload,
                                f"{fd.base_url}/cdn/attachments/{fd.text_channel_id}/9999/cat.png")
    fd.cdn[attachment.id] = attachment
    posted.attachments.append(attachment)

    menu = await fd.invoke_message_command("Edit image", posted.id)
    await fd.wait_for(lambda: menu.ack_type is not None, what="the modal")
    assert menu.ack_type == 9 and menu.modal is not None
    [[field]] = [row["components"] for row in menu.modal["components"]]
    submit = await fd.submit_modal(menu, {field["custom_id"]: "make it a painting"})
    await running.tracker.wait_any(submit.id)

    body = posts(harness)[-1]
    assert "previous_response_id" not in body
    [received] = harness.openai.generations[-1].input_images
    assert decode(received).size == (32, 32)
    reply = fd.messages[submit.original_message_id]
    assert reply.attachments and [int(t["id"]) for t in fd.threads()] == [reply.id]
