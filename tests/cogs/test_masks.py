"""/edit mask: a PNG whose transparent pixels mark where to repaint, checked before anything is paid for."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import decode, make_image
from tests.harness import Harness


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def mask_png(size: tuple[int, int], *, alpha: bool = True, hole: bool = True) -> bytes:
    """Opaque black with a transparent rectangle in the middle (the part to repaint)."""
    image = Image.new("RGBA" if alpha else "RGB", size, (0, 0, 0, 255) if alpha else (0, 0, 0))
    if alpha and hole:
        w, h = size
        image.paste((0, 0, 0, 0), (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def masked_edit(harness: Harness, image: bytes, mask: bytes) -> FakeInteraction:
    running = await harness.start_bot()
    return await harness.command(running, "edit", {"instruction": "a pool in the middle"}, attachments={
        "image": ("garden.png", image, "image/png"), "mask": ("mask.png", mask, "image/png")})


def private_refusal(harness: Harness, interaction: FakeInteraction) -> str:
    assert posts(harness) == []  # nothing reached OpenAI: free
    [private] = [harness.discord.messages[i] for i in interaction.followup_ids]
    assert private.ephemeral
    return private.content


async def test_mask_is_sent_as_the_tools_input_image_mask(harness: Harness) -> None:
    edit = await masked_edit(harness, make_image((20, 160, 20), (64, 48)), mask_png((64, 48)))

    [body] = posts(harness)
    tool = body["tools"][0]
    assert set(tool["input_image_mask"]) == {"image_url"}
    assert tool["input_image_mask"]["image_url"].startswith("data:image/png;base64,")
    sent = base64.b64decode(tool["input_image_mask"]["image_url"].split(",", 1)[1])
    pixels = Image.open(io.BytesIO(sent))
    assert pixels.mode == "RGBA" and pixels.size == (64, 48)
    assert pixels.getpixel((32, 24))[3] == 0 and pixels.getpixel((2, 2))[3] == 255  # the hole is kept
    assert harness.openai.generations[-1].mask == sent
    assert harness.discord.messages[edit.original_message_id].attachments


async def test_mask_of_a_large_image_is_scaled_with_it(harness: Harness) -> None:
    # The image is sent at most 2048 on a side; the mask must arrive at the same size or OpenAI refuses it.
    await masked_edit(harness, make_image((20, 160, 20), (3000, 1500)), mask_png((3000, 1500)))
    generation = harness.openai.generations[-1]
    assert generation.mask is not None
    assert decode(generation.mask).size == decode(generation.input_images[0]).size == (2048, 1024)


async def test_mask_of_another_size_is_refused_privately(harness: Harness) -> None:
    edit = await masked_edit(harness, make_image((20, 160, 20), (64, 48)), mask_png((48, 64)))
    assert "The mask is 48×64 but the image is 64×48; they must be the same size." in private_refusal(harness, edit)
    assert harness.discord.messages[edit.original_message_id].deleted


async def test_mask_without_alpha_is_refused_privately(harness: Harness) -> None:
    edit = await masked_edit(harness, make_image((20, 160, 20), (64, 48)), mask_png((64, 48), alpha=False))
    assert "The mask has no transparency (alpha channel)" in private_refusal(harness, edit)


async def test_mask_without_transparent_pixels_is_refused_privately(harness: Harness) -> None:
    edit = await masked_edit(harness, make_image((20, 160, 20), (64, 48)), mask_png((64, 48), hole=False))
    assert "no transparent pixels" in private_refusal(harness, edit)


async def test_mask_that_is_not_a_png_is_refused_privately(harness: Harness) -> None:
    edit = await masked_edit(harness, make_image((20, 160, 20), (64, 48)),
                             make_image((0, 0, 0), (64, 48), "jpeg"))
    assert "The mask must be a PNG" in private_refusal(harness, edit)


async def test_mask_without_an_image_is_refused_before_anything_starts(harness: Harness) -> None:
    running = await harness.start_bot()
    edit = await harness.command(running, "edit", {"instruction": "x"},
                                 attachments={"mask": ("mask.png", mask_png((64, 48)), "image/png")})
    assert edit.ephemeral and posts(harness) == []
    assert "A mask needs the image it applies to" in harness.discord.messages[edit.original_message_id].content
