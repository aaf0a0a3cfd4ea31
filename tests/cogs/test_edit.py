"""/edit end to end: continuing a thread's chain, seeding threads with images, ordering, restarts."""

from __future__ import annotations

import asyncio

from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import close_color, decode, make_image
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot


def responses_bodies(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def draw_thread(harness: Harness, running: RunningBot, prompt: str = "a lighthouse") -> tuple[int, str]:
    """Run /draw in the text channel; return the thread id and the response id at its head."""
    interaction = await harness.command(running, "draw", {"prompt": prompt})
    thread_id = interaction.original_message_id
    assert thread_id is not None
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id
    return thread_id, head.response_id


def final_image_of(harness: Harness, interaction: FakeInteraction) -> bytes:
    message = harness.discord.messages[interaction.original_message_id]
    [attachment] = message.attachments
    return attachment.data


async def test_edit_in_bot_thread_continues_the_chain(harness: Harness) -> None:
    running = await harness.start_bot()
    thread_id, first_response = await draw_thread(harness, running)
    harness.openai.queue_script(ImageScript(final_color=(0, 200, 0), revised_prompt="A realistic lighthouse"))

    edit = await harness.command(running, "edit", {"instruction": "now make it look realistic"},
                                 channel_id=thread_id)

    body = responses_bodies(harness)[-1]
    assert body["previous_response_id"] == first_response
    assert body["input"] == [{"role": "user", "content": [{"type": "input_text",
                                                          "text": "now make it look realistic"}]}]
    # The result is posted in the thread and becomes the head.
    reply = harness.discord.messages[edit.original_message_id]
    assert reply.channel_id == thread_id
    assert decode(final_image_of(harness, edit)).center[:3] == (0, 200, 0)
    assert "A realistic lighthouse" in reply.embeds[0]["description"]
    generation = harness.openai.generations[-1]
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == generation.response_id
    assert head.kind == "edit" and head.previous_response_id == first_response
    assert head.parent_turn_id is not None
    # No second thread was opened for an edit inside a thread.
    assert len(harness.discord.threads()) == 1


async def test_edit_with_attached_image_in_bot_thread_sends_input_image(harness: Harness) -> None:
    running = await harness.start_bot()
    thread_id, first_response = await draw_thread(harness, running)
    upload = make_image((255, 200, 0), (64, 48))

    await harness.command(running, "edit", {"instruction": "use this palette"}, channel_id=thread_id,
                          attachments={"image": ("palette.png", upload, "image/png")})

    body = responses_bodies(harness)[-1]
    assert body["previous_response_id"] == first_response
    text, image = body["input"][0]["content"]
    assert text == {"type": "input_text", "text": "use this palette"}
    assert image["type"] == "input_image" and image["detail"] == "auto"
    assert image["image_url"].startswith("data:image/jpeg;base64,")
    [received] = harness.openai.generations[-1].input_images
    decoded = decode(received)
    assert decoded.size == (64, 48) and close_color(decoded.center[:3], (255, 200, 0))


async def test_edit_with_image_in_text_channel_starts_a_new_thread(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    upload = make_image((10, 20, 250), (32, 32))

    edit = await harness.command(running, "edit", {"instruction": "make the sky stormy"},
                                 attachments={"image": ("sky.png", upload, "image/png")})

    body = responses_bodies(harness)[-1]
    assert "previous_response_id" not in body
    assert body["input"][0]["content"][1]["type"] == "input_image"
    reply = fd.messages[edit.original_message_id]
    assert reply.channel_id == fd.text_channel_id
    [thread] = fd.threads()
    assert int(thread["id"]) == reply.id and thread["name"] == "make the sky stormy"
    head = await running.store.get_head(reply.id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id


async def test_edit_with_nothing_to_edit_is_private_and_free(harness: Harness) -> None:
    running = await harness.start_bot()
    edit = await harness.command(running, "edit", {"instruction": "make it blue"})
    assert edit.ack_type == 4 and edit.ephemeral
    assert "nothing to edit" in harness.discord.messages[edit.original_message_id].content.lower()
    assert responses_bodies(harness) == []


async def test_draw_inside_bot_thread_is_fresh_and_becomes_head(harness: Harness) -> None:
    running = await harness.start_bot()
    thread_id, _ = await draw_thread(harness, running)
    harness.openai.queue_script(ImageScript(final_color=(1, 2, 3)))

    draw = await harness.command(running, "draw", {"prompt": "a fresh start"}, channel_id=thread_id)

    body = responses_bodies(harness)[-1]
    assert "previous_response_id" not in body
    assert harness.discord.messages[draw.original_message_id].channel_id == thread_id
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id
    assert head.kind == "draw" and head.parent_turn_id is None
    assert len(harness.discord.threads()) == 1


async def two_edits_at_once(harness: Harness, running: RunningBot, thread_id: int, second_user: int | None
                            ) -> tuple[FakeInteraction, FakeInteraction]:
    """Start an edit whose image is held back, send a second edit while it runs, then let the first finish."""
    release = asyncio.Event()
    harness.openai.queue_script(ImageScript(final_color=(200, 0, 0), hold_final=release))
    harness.openai.queue_script(ImageScript(final_color=(0, 0, 200)))
    one = await harness.discord.invoke_slash("edit", {"instruction": "add a boat"}, channel_id=thread_id)
    await harness.discord.wait_for(lambda: len(responses_bodies(harness)) == 2, what="first edit reaches OpenAI")
    two = await harness.discord.invoke_slash("edit", {"instruction": "add a moon"}, channel_id=thread_id,
                                             user_id=second_user)
    await harness.discord.wait_for(
        lambda: two.original_message_id in harness.discord.messages
        and "Waiting" in harness.discord.messages[two.original_message_id].content,
        what="the second edit says it is waiting",
    )
    assert len(responses_bodies(harness)) == 2  # the second has not gone to OpenAI while the first runs
    release.set()
    await asyncio.gather(running.tracker.wait(one.id), running.tracker.wait(two.id))
    return one, two


async def test_two_edits_at_once_run_in_order_and_chain(harness: Harness) -> None:
    running = await harness.start_bot()
    thread_id, first_response = await draw_thread(harness, running)
    _, two = await two_edits_at_once(harness, running, thread_id, None)

    first_edit, second_edit = responses_bodies(harness)[1:]
    assert first_edit["previous_response_id"] == first_response
    generations = harness.openai.generations
    assert second_edit["previous_response_id"] == generations[1].response_id  # chained, not forked
    second_reply = harness.discord.messages[two.original_message_id]
    assert any("Waiting" in v.content for v in second_reply.versions())
    assert decode(final_image_of(harness, two)).center[:3] == (0, 0, 200)
    head = await running.store.get_head(thread_id)
    assert head is not None and head.response_id == generations[2].response_id
    turns = await running.store.list_turns(thread_id)
    assert [t.status for t in turns] == ["done", "done", "done"]
    assert turns[2].parent_turn_id == turns[1].id and turns[1].parent_turn_id == turns[0].id


async def test_chain_survives_a_restart(harness: Harness) -> None:
    first_bot = await harness.start_bot()
    thread_id, first_response = await draw_thread(harness, first_bot)
    await harness.stop_bot(first_bot)

    second_bot = await harness.start_bot()  # a new process would see exactly this: the same database file
    await harness.command(second_bot, "edit", {"instruction": "now at night"}, channel_id=thread_id)

    assert responses_bodies(harness)[-1]["previous_response_id"] == first_response
    head = await second_bot.store.get_head(thread_id)
    assert head is not None and head.response_id == harness.openai.generations[-1].response_id


async def test_attachment_that_is_not_an_image_is_refused_privately_for_free(harness: Harness) -> None:
    running = await harness.start_bot()
    edit = await harness.command(
        running, "edit", {"instruction": "make it pop"},
        attachments={"image": ("cat.png", b"GIF? no: <html>not an image</html>", "image/png")},
    )
    assert responses_bodies(harness) == []
    public = harness.discord.messages[edit.original_message_id]
    assert public.deleted  # the public "Editing…" reply was taken away
    [private] = [harness.discord.messages[i] for i in edit.followup_ids]
    assert private.ephemeral and "isn't a PNG, JPEG, WebP or GIF" in private.content
    turn = await running.store.turn_for_interaction(edit.id)
    assert turn is not None and turn.status == "failed" and turn.error_code == "invalid_input"
    assert (turn.cost_micros, turn.cost_reserved_micros) == (0, 0)  # nothing billed, nothing held


async def test_decompression_bomb_attachment_is_refused(harness: Harness) -> None:
    from tests.bot.core.test_images import png_header_claiming

    running = await harness.start_bot()
    edit = await harness.command(
        running, "edit", {"instruction": "x"},
        attachments={"image": ("bomb.png", png_header_claiming(40_000, 40_000), "image/png")},
    )
    assert responses_bodies(harness) == []
    [private] = [harness.discord.messages[i] for i in edit.followup_ids]
    assert "too many pixels" in private.content


async def test_two_members_editing_one_thread_at_once_take_turns(harness: Harness) -> None:
    running = await harness.start_bot()
    thread_id, first_response = await draw_thread(harness, running)
    one, two = await two_edits_at_once(harness, running, thread_id, harness.discord.other_user_id)

    first_edit, second_edit = responses_bodies(harness)[1:]
    generations = harness.openai.generations
    assert first_edit["previous_response_id"] == first_response
    # The second member's edit builds on the first member's result, not on the picture both of them saw.
    assert second_edit["previous_response_id"] == generations[1].response_id
    assert decode(final_image_of(harness, one)).center[:3] == (200, 0, 0)
    assert decode(final_image_of(harness, two)).center[:3] == (0, 0, 200)
    turns = await running.store.list_turns(thread_id)
    assert [(t.user_id, t.status) for t in turns] == [
        (harness.discord.user_id, "done"), (harness.discord.user_id, "done"),
        (harness.discord.other_user_id, "done"),
    ]
    head = await running.store.get_head(thread_id)
    assert head is not None and head.id == turns[2].id
