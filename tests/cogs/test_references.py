"""Earlier results as input by id: "Edit image" on one of the bot's results sends an item_reference, not bytes."""

from __future__ import annotations

from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import close_color, decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot

CAT, OTTER = (200, 120, 30), (40, 90, 200)


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def cdn_downloads(harness: Harness) -> int:
    return len([call for call in harness.discord.calls if call.method == "GET" and "/cdn/" in call.path])


async def edit_image(harness: Harness, running: RunningBot, message_id: int, text: str) -> FakeInteraction:
    fd = harness.discord
    menu = await fd.invoke_message_command("Edit image", message_id)
    await fd.wait_for(lambda: menu.ack_type is not None, what="the modal")
    assert menu.modal is not None
    [[field]] = [row["components"] for row in menu.modal["components"]]
    submit = await fd.submit_modal(menu, {field["custom_id"]: text})
    await running.tracker.wait_any(submit.id)
    return submit


async def two_results(harness: Harness, running: RunningBot) -> tuple[FakeInteraction, FakeInteraction]:
    harness.openai.queue_script(ImageScript(final_color=CAT))
    cat = await harness.command(running, "draw", {"prompt": "a cat"})
    harness.openai.queue_script(ImageScript(final_color=OTTER))
    otter = await harness.command(running, "draw", {"prompt": "an otter"})
    return cat, otter


async def test_edit_image_on_a_result_from_another_thread_references_it_by_id(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    cat, _ = await two_results(harness, running)
    cat_call = harness.openai.generations[0].image_call_id

    submit = await edit_image(harness, running, cat.original_message_id, "give the cat a scarf")

    body = posts(harness)[-1]
    assert body["input"] == [
        {"type": "item_reference", "id": cat_call},
        {"role": "user", "content": [{"type": "input_text", "text": "give the cat a scarf"}]},
    ]
    assert "previous_response_id" not in body and body["tools"][0]["action"] == "edit"
    # OpenAI used the cat picture itself, resolved from the id.
    [seen] = harness.openai.generations[-1].input_images
    assert close_color(decode(seen).center[:3], CAT)
    assert cdn_downloads(harness) == 0  # nothing was downloaded from Discord to re-upload
    reply = fd.messages[submit.original_message_id]
    assert reply.attachments and "sent it again" not in reply.embeds[0].get("footer", {}).get("text", "")
    turn = await running.store.turn_for_interaction(submit.id)
    assert turn is not None and turn.status == "done" and turn.kind == "edit"


async def test_reference_openai_no_longer_has_falls_back_to_the_bytes_from_discord(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    cat, _ = await two_results(harness, running)
    first = harness.openai.generations[0]
    harness.openai.forget_response(first.response_id)  # as after OpenAI's 30 days

    submit = await edit_image(harness, running, cat.original_message_id, "give the cat a scarf")

    refused, resent = posts(harness)[-2:]
    assert refused["input"][0] == {"type": "item_reference", "id": first.image_call_id}
    assert [r.status for r in harness.openai.requests if r.method == "POST"][-2:] == [404, 200]
    assert [item.get("type") for item in resent["input"]] == [None]  # one user message, no reference
    text, image = resent["input"][0]["content"]
    assert text == {"type": "input_text", "text": "give the cat a scarf"}
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/")
    [seen] = harness.openai.generations[-1].input_images
    assert close_color(decode(seen).center[:3], CAT)
    assert cdn_downloads(harness) == 1  # the fallback fetched the cat from its Discord message
    reply = fd.messages[submit.original_message_id]
    assert reply.attachments
    assert "OpenAI no longer had that earlier image, so I sent it again from Discord." in (
        reply.embeds[0]["footer"]["text"])


async def test_edit_image_on_a_members_upload_still_sends_its_bytes(harness: Harness) -> None:
    # Not one of the bot's results (no turn behind it): nothing to reference, so the image is uploaded.
    from tests.cogs.test_several_images import test_edit_image_on_a_message_uses_every_image_in_order as upload

    await upload(harness)
    assert all(item.get("type") != "item_reference" for item in posts(harness)[-1]["input"])
