"""Aspect ratio and resolution end to end: the size OpenAI is asked for, the picture that comes back, the notes."""

from __future__ import annotations

from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import decode
from tests.harness import Harness


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def result(harness: Harness, interaction: FakeInteraction) -> tuple[tuple[int, int], str]:
    """The delivered picture's pixel size and its embed footer."""
    reply = harness.discord.messages[interaction.original_message_id]
    [attachment] = reply.attachments
    return decode(attachment.data).size, reply.embeds[0].get("footer", {}).get("text", "")


async def test_wide_large_draw_asks_for_2048x1152_and_gets_that_shape(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a harbour", "aspect": "16:9",
                                                   "resolution": "large"})
    [body] = posts(harness)
    assert body["tools"] == [{"type": "image_generation", "size": "2048x1152", "quality": "auto",
                              "background": "auto", "output_format": "png", "action": "generate",
                              "partial_images": 2}]
    size, footer = result(harness, draw)
    assert size == (2048 // 16, 1152 // 16)  # the fake draws at 1/16 scale
    assert "experimental" not in footer and "nearest" not in footer
    # The estimate shown (and held) covers the larger picture: 2.25 times the pixels of 1024x1024.
    # auto quality counts as high: 4,160 tokens x 2.25 = 9,360; (9,360 + 2 previews x 100) x 40 + the mainline
    # allowance 3,000 + the prompt 200 x 10 = 387,400 micro-dollars (1024x1024 would be 179,400).
    status = harness.discord.messages[draw.original_message_id].versions()
    assert any("Estimated cost: at most $0.387." in v.content for v in status)


async def test_4k_tall_draw_is_3840_high_and_says_it_is_experimental(harness: Harness) -> None:
    # At auto quality a 4K image is estimated above the default $1 a day per member (about $1.32).
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="5")
    draw = await harness.command(running, "draw", {"prompt": "a tower", "aspect": "9:16", "resolution": "4k"})
    assert posts(harness)[0]["tools"][0]["size"] == "2160x3840"
    size, footer = result(harness, draw)
    assert size == (135, 240)
    assert "2160×3840 is above 2560×1440, which OpenAI calls experimental." in footer


async def test_standard_only_model_gets_the_nearest_standard_size_and_says_so(harness: Harness) -> None:
    running = await harness.start_bot(IMAGE_MODEL="gpt-image-1.5")
    draw = await harness.command(running, "draw", {"prompt": "a harbour", "aspect": "16:9"})
    assert posts(harness)[0]["tools"][0]["size"] == "1536x1024"
    size, footer = result(harness, draw)
    assert size == (96, 64)
    assert ("This server's image model only makes 1024×1024, 1536×1024, 1024×1536, so I used 1536×1024 "
            "(the nearest to 16:9 standard).") in footer


async def test_size_refused_by_openai_becomes_a_clear_message(harness: Harness) -> None:
    # The owner listed a model as taking any size, but it doesn't: OpenAI answers 400 invalid_value on the size.
    running = await harness.start_bot(IMAGE_MODEL="gpt-image-1.5", IMAGE_ANY_SIZE_MODELS="gpt-image-1.5")
    draw = await harness.command(running, "draw", {"prompt": "a harbour", "aspect": "21:9"})
    assert posts(harness)[0]["tools"][0]["size"] == "1568x672"
    assert harness.openai.requests[-1].status == 400
    assert harness.discord.messages[draw.original_message_id].deleted  # the public reply is taken away
    [private] = [harness.discord.messages[i] for i in draw.followup_ids]
    assert private.ephemeral and private.content.startswith("❌ OpenAI refused this picture size"), private.content
    assert "IMAGE_ANY_SIZE_MODELS" in private.content
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "failed" and turn.cost_micros == 0


async def test_size_and_aspect_together_are_refused_privately_for_free(harness: Harness) -> None:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "x", "size": "1024x1024", "aspect": "3:2"})
    assert draw.ephemeral and posts(harness) == []
    assert "Pick either size or aspect/resolution" in harness.discord.messages[draw.original_message_id].content
