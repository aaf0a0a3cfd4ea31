"""/edit fidelity (the tool's input_fidelity, where the model takes it) and the tool's action for /draw and /edit."""

from __future__ import annotations

from tests.harness import Harness


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def call_item(harness: Harness) -> dict:
    """The image_generation_call item of the last generation, as OpenAI returned it."""
    response = harness.openai.stored[harness.openai.generations[-1].response_id]
    [item] = [item for item in response["output"] if item["type"] == "image_generation_call"]
    return item


async def test_edit_with_high_fidelity_on_a_model_that_takes_it(harness: Harness) -> None:
    running = await harness.start_bot(IMAGE_MODEL="gpt-image-1.5")
    draw = await harness.command(running, "draw", {"prompt": "a logo"})
    thread_id = draw.original_message_id
    assert posts(harness)[0]["tools"][0]["action"] == "generate"

    await harness.command(running, "edit", {"instruction": "keep the logo, blue", "fidelity": "high"},
                          channel_id=thread_id)

    tool = posts(harness)[1]["tools"][0]
    assert tool == {"type": "image_generation", "size": "auto", "quality": "auto", "background": "auto",
                    "output_format": "png", "input_fidelity": "high", "action": "edit", "model": "gpt-image-1.5",
                    "partial_images": 2}
    assert call_item(harness)["action"] == "edit"
    head = await running.store.get_head(thread_id)
    assert head is not None and head.kind == "edit" and head.options.fidelity == "high"


async def test_fidelity_on_a_model_without_it_is_refused_privately_for_free(harness: Harness) -> None:
    running = await harness.start_bot()  # OpenAI's default image model (gpt-image-2) always works at high fidelity
    draw = await harness.command(running, "draw", {"prompt": "a logo"})
    edit = await harness.command(running, "edit", {"instruction": "blue", "fidelity": "high"},
                                 channel_id=draw.original_message_id)
    assert edit.ephemeral and len(posts(harness)) == 1
    assert "doesn't take the fidelity option" in harness.discord.messages[edit.original_message_id].content


async def test_fidelity_refused_by_openai_becomes_a_clear_message(harness: Harness) -> None:
    running = await harness.start_bot(IMAGE_FIDELITY_MODELS="default")  # a wrong capability list
    draw = await harness.command(running, "draw", {"prompt": "a logo"})
    edit = await harness.command(running, "edit", {"instruction": "blue", "fidelity": "high"},
                                 channel_id=draw.original_message_id)
    assert posts(harness)[1]["tools"][0]["input_fidelity"] == "high"
    assert harness.openai.requests[-1].status == 400
    [private] = [harness.discord.messages[i] for i in edit.followup_ids]
    text = private.content
    assert private.ephemeral and text.startswith("❌") and "doesn't take the fidelity option" in text
    assert "IMAGE_FIDELITY_MODELS" in text


async def test_draw_inside_a_thread_generates_instead_of_editing_the_previous_picture(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    await harness.command(running, "draw", {"prompt": "a mountain"}, channel_id=draw.original_message_id)
    tool = posts(harness)[1]["tools"][0]
    assert tool["action"] == "generate"
    assert call_item(harness)["action"] == "generate"
