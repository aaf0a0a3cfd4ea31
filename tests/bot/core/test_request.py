"""The exact request body for the Responses API."""

import base64

from bot.core.models import InputImage
from bot.core.options import ImageOptions
from bot.core.request import ModelConfig, build_request, safety_identifier


def test_draw_body() -> None:
    body = build_request(ModelConfig("gpt-5.4-mini", None, 2), prompt="a cat", options=ImageOptions(), user_id=7)
    assert body == {
        "model": "gpt-5.4-mini",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "a cat"}]}],
        "tools": [{"type": "image_generation", "size": "auto", "quality": "auto", "background": "auto",
                   "output_format": "png", "partial_images": 2}],
        "tool_choice": {"type": "image_generation"},
        "store": True,
        "stream": True,
        # printf 'threadpaint:7' | sha256sum | cut -c1-32
        "safety_identifier": "975a010aaa9ec5fe6dd4a247ec6a4180",
    }


def test_edit_body_with_image_and_model() -> None:
    image = InputImage(b"\x89PNGdata", "image/png")
    body = build_request(
        ModelConfig("m", "gpt-image-2", 0), prompt="bluer", options=ImageOptions(format="webp", compression=70),
        user_id=1, previous_response_id="resp_1", input_images=[image],
    )
    assert body["previous_response_id"] == "resp_1"
    assert body["tools"][0]["model"] == "gpt-image-2"
    assert body["tools"][0]["output_compression"] == 70
    part = body["input"][0]["content"][1]
    assert part == {"type": "input_image", "detail": "auto",
                    "image_url": "data:image/png;base64," + base64.b64encode(b"\x89PNGdata").decode()}


def test_safety_identifier_is_stable_and_opaque() -> None:
    # printf 'threadpaint:42' | sha256sum | cut -c1-32: the same member always maps to the same opaque value.
    assert safety_identifier(42) == "e4815a421922a7df9c70d1d20feda1b3"
    assert safety_identifier(43) == "61ca516ae9e7aad7f1eb9acd7396d8a5"  # printf 'threadpaint:43' | sha256sum
