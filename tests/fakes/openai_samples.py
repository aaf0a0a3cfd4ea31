"""`POST /v1/responses` bodies with the verdict the fake OpenAI's schema check must give each one.

The verdict is the parameter `schema_error` names (None: the body is valid). scripts/refresh_specs.py checks
that the vendored subset gives exactly the full OpenAPI description's answer on every sample before it writes
the subset; tests/fakes/test_specs.py checks the vendored subset gives the expected verdicts.
"""

from __future__ import annotations

from typing import Any

# A 1x1 red PNG: the schema only sees a string, but keep it a real image.
PNG_DATA_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
SAFETY_ID = "0123456789abcdef0123456789abcdef"


def _tool(**fields: Any) -> dict[str, Any]:
    return {"type": "image_generation", "quality": "low", "size": "1024x1024", "partial_images": 2, **fields}


def _body(input_: Any = "a cat in a hat", tools: list[Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5.4-mini", "input": input_, "tools": tools or [_tool()], "stream": True, **fields}


def _user(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


_TEXT = {"type": "input_text", "text": "make it blue"}
_IMAGE = {"type": "input_image", "image_url": PNG_DATA_URL, "detail": "auto"}

# (id, body, expected verdict)
SAMPLES: list[tuple[str, dict[str, Any], str | None]] = [
    # What the bot sends (bot/core/request.py): /draw, /edit on a chain, /edit with an attachment.
    (
        "draw",
        _body(
            [_user({"type": "input_text", "text": "a gray tabby cat"})],
            [_tool(quality="high", size="1536x1024", background="opaque", output_format="webp",
                   output_compression=80, moderation="low", model="gpt-image-2")],
            tool_choice={"type": "image_generation"},
            store=True,
            safety_identifier=SAFETY_ID,
        ),
        None,
    ),
    (
        "edit_chain",
        _body([_user(_TEXT)], tool_choice={"type": "image_generation"}, store=True, safety_identifier=SAFETY_ID,
              previous_response_id="resp_0123456789abcdef"),
        None,
    ),
    ("edit_attachment", _body([_user(_TEXT, _IMAGE)], tool_choice={"type": "image_generation"}), None),
    ("item_reference", _body([_user(_TEXT), {"type": "item_reference", "id": "ig_0123"}]), None),
    ("string_input_no_tools", {"model": "gpt-5.6", "input": "hello"}, None),
    ("partial_images_0", _body(tools=[_tool(partial_images=0)]), None),
    ("transparent_png", _body(tools=[_tool(background="transparent", output_format="png")]), None),
    # Mistakes the real API answers with 400.
    ("partial_images_5", _body(tools=[_tool(partial_images=5)]), "tools[0].partial_images"),
    ("partial_images_negative", _body(tools=[_tool(partial_images=-1)]), "tools[0].partial_images"),
    ("quality_ultra", _body(tools=[_tool(quality="ultra")]), "tools[0].quality"),
    ("background_clear", _body(tools=[_tool(background="clear")]), "tools[0].background"),
    ("compression_101", _body(tools=[_tool(output_compression=101)]), "tools[0].output_compression"),
    ("input_image_without_detail", _body([_user({"type": "input_image", "image_url": PNG_DATA_URL})]),
     "input[0].content[0].detail"),
    ("input_image_bad_detail", _body([_user({**_IMAGE, "detail": "max"})]), "input[0].content[0].detail"),
    ("image_call_reference", _body([_user(_TEXT), {"type": "image_generation_call", "id": "ig_0123"}]),
     "input[1].type"),
    ("tool_choice_unknown", _body(tool_choice={"type": "image_gen"}), "tool_choice"),
    ("stream_as_string", _body(stream="yes"), "stream"),
    ("unknown_tool_parameter", _body(tools=[_tool(partial_image=2)]), "tools[0].partial_image"),
    ("unknown_top_level_parameter", _body(partial_images=2), "partial_images"),
]
