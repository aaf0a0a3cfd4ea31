"""Cheap parsing of image events gives exactly what json.loads and the SDK give."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._models import construct_type
from openai._streaming import SSEDecoder
from openai.types.responses import ResponseStreamEvent

from bot.core.options import ImageOptions
from bot.core.request import ModelConfig, build_request
from bot.openai_adapter.image_events import LONG_STRING, ImageEvent, loads, validate_stream_event
from bot.openai_adapter.sse import FastSSEDecoder
from tests.fakes.openai_server import FakeOpenAI, ImageScript

IMAGE = base64.b64encode(os.urandom(LONG_STRING)).decode()  # a little over LONG_STRING characters
OTHER = base64.b64encode(os.urandom(LONG_STRING + 3)).decode()


def partial(image: str = IMAGE) -> dict[str, Any]:
    return {"type": "response.image_generation_call.partial_image", "item_id": "ig_1", "output_index": 0,
            "partial_image_index": 0, "partial_image_b64": image, "sequence_number": 4,
            "background": "opaque", "output_format": "png", "quality": "high", "size": "1536x1024"}


def image_call(result: str | None) -> dict[str, Any]:
    return {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": result,
            "revised_prompt": 'say "result":"x" here', "output_format": "png"}


def completed(*results: str | None) -> dict[str, Any]:
    return {"type": "response.completed", "sequence_number": 9, "response": {
        "id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-5.4-mini",
        "output": [image_call(r) for r in results], "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                               "input_tokens_details": {"cached_tokens": 0},
                               "output_tokens_details": {"reasoning_tokens": 0}}}}


CASES = [
    partial(),
    {"type": "response.output_item.done", "output_index": 0, "sequence_number": 5, "item": image_call(IMAGE)},
    completed(IMAGE, OTHER),  # two images, nested in a list, in document order
    completed(None, IMAGE),
    completed("short"),  # nothing long: parsed as it is
    partial(IMAGE[:100] + "\\/" + IMAGE[100:]),  # escaped: must be parsed, not sliced
    {"note": '{"result":"' + IMAGE + '"}'},  # looks like a key, but inside a string
    {"result": 5, "partial_image_b64": [IMAGE], "x": {"result": IMAGE}},
]


@pytest.mark.parametrize("value", CASES)
@pytest.mark.parametrize("compact", [True, False])
def test_loads_equals_json_loads(value: dict[str, Any], compact: bool) -> None:
    text = json.dumps(value, separators=(",", ":") if compact else (", ", ": "))
    text = text.replace("\\\\/", "\\/")  # keep the one escaped case escaped exactly once
    assert loads(text) == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from([IMAGE, OTHER]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["result", "partial_image_b64", "a", "b\\", '"result"']), inner, max_size=4),
    max_leaves=12,
), st.booleans())
def test_loads_equals_json_loads_for_any_document(value: Any, compact: bool) -> None:
    text = json.dumps(value, separators=(",", ":") if compact else (", ", ": "))
    assert loads(text) == json.loads(text)


def test_a_string_equal_to_the_placeholder_never_misplaces_an_image() -> None:
    text = json.dumps({"a": "\0threadpaint-image\0", "result": IMAGE}, separators=(",", ":"))
    assert loads(text) == json.loads(text)


def test_image_event_json_uses_it() -> None:
    text = json.dumps(completed(IMAGE))
    assert ImageEvent(event="response.completed", data=text).json() == json.loads(text)


async def a_real_stream() -> bytes:
    """The raw bytes of one streamed generation with two previews, images big enough to be sliced."""
    options = ImageOptions(size="1024x1024", quality="auto", background="auto", format="png", compression=None)
    body = build_request(ModelConfig(model="gpt-5.4-mini", image_model=None, partial_images=2), prompt="a cat",
                         options=options, user_id=1, partial_images=2)
    async with FakeOpenAI(image_bytes=3 * LONG_STRING, pixel_scale=0.25) as fake, aiohttp.ClientSession() as http:
        fake.queue_script(ImageScript(final_color=(1, 2, 3), partial_colors=[(4, 5, 6), (7, 8, 9)]))
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with http.post(f"{fake.base_url}/responses", json=body, headers=headers) as response:
            return await response.read()


async def test_a_real_stream_gives_the_sdk_s_events() -> None:
    raw = await a_real_stream()
    ours = list(FastSSEDecoder().iter_bytes(iter([raw])))
    sdk = list(SSEDecoder().iter_bytes(iter([raw])))
    # Two previews, the final (output_item.done) and response.completed, which carries the final again.
    assert sum(isinstance(e, ImageEvent) for e in ours) == 4
    assert len(ours) == len(sdk) > 10
    for mine, theirs in zip(ours, sdk, strict=True):
        parsed = mine.json()  # once, as the SDK does: an image event lets go of its text when parsed
        assert parsed == theirs.json()
        event = validate_stream_event(parsed, ResponseStreamEvent)
        expected = construct_type(type_=ResponseStreamEvent, value=theirs.json())
        assert event is not None and type(event) is type(expected)
        assert event.model_dump() == expected.model_dump()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "cast_to"), [
    ({"type": "response.made_up_event", "x": 1}, ResponseStreamEvent),  # unknown: the SDK decides
    ({**partial(), "partial_image_index": "not a number"}, ResponseStreamEvent),  # invalid: the SDK decides
    (partial(), dict),  # not a stream event at all
    ([partial()], ResponseStreamEvent),
])
def test_anything_else_is_left_to_the_sdk(value: object, cast_to: object) -> None:
    assert validate_stream_event(value, cast_to) is None
