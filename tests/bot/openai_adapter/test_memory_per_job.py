"""While a job waits for OpenAI's next image event, it holds the image it has, not copies of its base64 text.

Image events arrive a second or more apart, and everything still referenced in between (the SSE text, the parsed
JSON, the SDK's event, the decoded bytes) is memory each running job keeps: with 50 jobs, a few megabytes of
copies per job is most of the bot's footprint. tracemalloc counts what stays allocated while the stream is paused
right after a preview, through the same layers the bot uses (SSE decoder, image-event parsing, SDK stream, engine).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tracemalloc
from collections.abc import AsyncIterator

import httpx2
import pytest

from bot.core.engine import OpenAIImageEngine
from bot.core.errors import StreamBroken
from bot.core.options import ImageOptions
from bot.core.request import ModelConfig, build_request
from bot.core.updates import Partial
from bot.openai_adapter.client import ImageStreamingOpenAI
from tests.clock import settle

IMAGE_BYTES = 2_000_000
MB = 1_000_000


def sse(event: dict[str, object]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + json.dumps(event).encode() + b"\n\n"


class PausedBody(httpx2.AsyncByteStream):
    """The response body in network-sized pieces, stopping after the preview until `resume` is set."""

    def __init__(self, before: list[bytes], after: list[bytes]) -> None:
        self.before, self.after = before, after
        self.resume = asyncio.Event()
        self.waiting = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.before:
            yield self.before.pop(0)  # handed over, not kept: as a socket's read buffer would
        self.waiting = True
        await self.resume.wait()
        while self.after:
            yield self.after.pop(0)


def chunked(data: bytes, size: int = 256 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def body_of(image_b64: str) -> tuple[list[bytes], list[bytes]]:
    created = {"type": "response.created", "sequence_number": 0, "response": {
        "id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-5.4-mini",
        "output": [], "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}}
    preview = {"type": "response.image_generation_call.partial_image", "item_id": "ig_1", "output_index": 0,
               "partial_image_index": 0, "partial_image_b64": image_b64, "sequence_number": 1,
               "output_format": "png", "size": "1536x1024", "quality": "high", "background": "opaque"}
    return chunked(sse(created) + sse(preview)), [b"data: [DONE]\n\n"]


async def held_while_paused(image_bytes: int, keep: bool = True) -> tuple[int, int]:
    """Stream a preview of `image_bytes` and stop; what stays allocated then, and the preview's size.

    keep=False: the consumer lets go of the preview (as the bot does once it is shown) before the count.
    """
    image_b64 = base64.b64encode(os.urandom(image_bytes)).decode()
    before, after = body_of(image_b64)
    del image_b64
    body = PausedBody(before, after)
    transport = httpx2.MockTransport(lambda request: httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, stream=body
    ))
    client = ImageStreamingOpenAI(api_key="sk-test", base_url="http://openai.test/v1", max_retries=0,
                                  http_client=httpx2.AsyncClient(transport=transport))
    engine = OpenAIImageEngine(client)
    request = build_request(ModelConfig("gpt-5.4-mini", "gpt-image-2", 1), prompt="a fox", options=ImageOptions(),
                            user_id=1, partial_images=1)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]  # the body, made before tracing started, is not counted
        updates = engine.generate(request)
        preview = None
        async for update in updates:
            if isinstance(update, Partial):
                preview = update
                break
        assert preview is not None
        size = len(preview.image)
        waiting = None
        if not keep:
            del update, preview
            # As the bot's loop does: ask for the next update, which waits for the paused body.
            waiting = asyncio.ensure_future(anext(updates))
            await settle(lambda: body.waiting)
        held = tracemalloc.get_traced_memory()[0] - baseline
        body.resume.set()
        if waiting is not None:
            with pytest.raises(StreamBroken):  # the body ends without a finished image
                await waiting
        await updates.aclose()
    finally:
        tracemalloc.stop()
        await client.close()
    return held, size


async def test_a_paused_job_holds_its_preview_once() -> None:
    await held_while_paused(100_000)  # first use builds the SDK's lazily made validators: not per job
    held, image = await held_while_paused(IMAGE_BYTES)
    assert image == IMAGE_BYTES
    # The decoded preview itself, plus small change: no copy of the 2.7 MB base64 text may still be alive.
    assert held - image < 0.25 * MB, f"held {held / MB:.2f} MB while waiting, for a {image / MB:g} MB image"


async def test_a_shown_preview_is_not_held_by_the_stream_while_waiting() -> None:
    # The bot shows a preview within milliseconds and then waits a second or more for the next image event: the
    # stream's own layers (translate, the engine) must not keep the preview meanwhile, 2 MB for every running job.
    await held_while_paused(100_000, keep=False)
    held, image = await held_while_paused(IMAGE_BYTES, keep=False)
    assert image == IMAGE_BYTES
    assert held < 0.25 * MB, f"held {held / MB:.2f} MB while waiting, after letting go of a {image / MB:g} MB preview"
