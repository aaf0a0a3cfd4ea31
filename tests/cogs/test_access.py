"""One access rule for every way in: buttons, modals, "Edit image" and Cancel obey what /draw and /edit obey."""

from __future__ import annotations

from tests.cogs.test_server_settings_applied import configure, posts
from tests.fakes.discord_state import MEMBER_PERMISSIONS, PERMISSIONS, FakeAttachment, FakeInteraction
from tests.fakes.images import make_image
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot


async def click(harness: Harness, running: RunningBot, message_id: int, custom_id: str,
                **kw: object) -> FakeInteraction:
    interaction = await harness.discord.invoke_component(message_id, custom_id, **kw)  # type: ignore[arg-type]
    await running.tracker.wait_any(interaction.id)
    await harness.discord.wait_for(lambda: interaction.ack_type is not None, what="the answer")
    return interaction


def said(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.original_message_id is not None
    return harness.discord.messages[interaction.original_message_id].content


async def test_reroll_obeys_the_role_allow_list(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    await configure(harness, running, allowed_role_ids=frozenset({12345}))
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    press = await click(harness, running, draw.original_message_id, f"tp:reroll:{turn.id}", user_id=fd.other_user_id)
    assert press.ephemeral and "<@&12345>" in said(harness, press)
    edit = await click(harness, running, draw.original_message_id, f"tp:edit:{turn.id}", user_id=fd.other_user_id)
    assert edit.modal is None and "<@&12345>" in said(harness, edit)  # refused before typing anything
    assert len(posts(harness)) == 1


async def test_draw_in_someone_elses_thread_respects_the_starter_rule(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await configure(harness, running, edit_policy="starter")
    draw = await harness.command(running, "draw", {"prompt": "a boat"})
    thread_id = draw.original_message_id
    head_before = await running.store.get_head(thread_id)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    intruder = await harness.command(running, "draw", {"prompt": "a shark"}, channel_id=thread_id,
                                     user_id=fd.other_user_id)
    assert intruder.ephemeral and "only the person who started this thread" in said(harness, intruder)
    head = await running.store.get_head(thread_id)
    assert head_before is not None and head is not None and head.id == head_before.id
    assert len(posts(harness)) == 1


async def test_only_the_owner_or_a_moderator_may_cancel_a_fresh_draw(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()  # default editing rule: anyone
    harness.openai.queue_script(ImageScript(event_delay=0.3))
    draw = await fd.invoke_slash("draw", {"prompt": "a kite"})
    await fd.wait_for(lambda: len(posts(harness)) == 1, what="the draw to stream")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.chain_id is None  # no conversation record yet
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    stranger = await fd.invoke_component(draw.original_message_id, f"tp:cancel:{turn.id}", user_id=fd.other_user_id)
    await fd.wait_for(lambda: stranger.ack_type is not None, what="the refusal")
    await running.tracker.wait(draw.id)
    assert "Only the member who asked for this image" in said(harness, stranger)
    done = await running.store.turn_for_interaction(draw.id)
    assert done is not None and done.status == "done"
    assert fd.messages[draw.original_message_id].attachments  # the image was delivered


async def test_members_own_permissions_are_checked(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS & ~PERMISSIONS["attach_files"]
    no_files = await harness.command(running, "draw", {"prompt": "x"}, user_id=fd.other_user_id)
    assert no_files.ephemeral and "can't attach files here" in said(harness, no_files)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS & ~PERMISSIONS["create_public_threads"]
    no_threads = await harness.command(running, "draw", {"prompt": "x"}, user_id=fd.other_user_id)
    assert no_threads.ephemeral and "can't create public threads" in said(harness, no_threads)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS & ~PERMISSIONS["send_messages"]
    muted = await harness.command(running, "draw", {"prompt": "x"}, user_id=fd.other_user_id)
    assert muted.ephemeral and "can't send messages here" in said(harness, muted)
    assert posts(harness) == [] and fd.threads() == []


async def test_edit_image_on_another_members_message_follows_the_server_setting(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    attachment = FakeAttachment(9_999, "cat.png", "image/png", make_image((240, 10, 200), (32, 32)),
                                f"{fd.base_url}/cdn/attachments/{fd.text_channel_id}/9999/cat.png")
    fd.cdn[attachment.id] = attachment
    posted = await fd.send_user_message(fd.text_channel_id, "my cat", user_id=fd.user_id)
    posted.attachments.append(attachment)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS

    taken = await fd.invoke_message_command("Edit image", posted.id, user_id=fd.other_user_id)
    await fd.wait_for(lambda: taken.ack_type is not None, what="the answer")
    assert taken.modal is None and "only edit your own images" in said(harness, taken)

    own = await fd.invoke_message_command("Edit image", posted.id, user_id=fd.user_id)
    await fd.wait_for(lambda: own.ack_type is not None, what="the modal")
    assert own.modal is not None  # your own message is always allowed

    await configure(harness, running, edit_others_images=True)
    allowed = await fd.invoke_message_command("Edit image", posted.id, user_id=fd.other_user_id)
    await fd.wait_for(lambda: allowed.ack_type is not None, what="the modal")
    assert allowed.modal is not None
    assert posts(harness) == []


async def test_a_forged_button_cannot_reach_another_servers_turn(harness: Harness) -> None:
    fd = harness.discord
    _, other_channel = fd.add_guild("Elsewhere")
    running = await harness.start_bot()
    victim = await harness.command(running, "draw", {"prompt": "a kite"})
    victim_turn = await running.store.turn_for_interaction(victim.id)
    mine = await harness.command(running, "draw", {"prompt": "a cat"}, channel_id=other_channel)
    assert victim_turn is not None and mine.original_message_id is not None
    thread_messages = len([m for m in fd.messages.values() if m.channel_id == victim.original_message_id])
    for action in ("reroll", "edit", "cancel"):
        forged = await click(harness, running, mine.original_message_id, f"tp:{action}:{victim_turn.id}",
                             forged=True)
        assert forged.modal is None and "belongs to a message somewhere else" in said(harness, forged)
    assert len(posts(harness)) == 2
    assert len([m for m in fd.messages.values() if m.channel_id == victim.original_message_id]) == thread_messages
