"""The floor: the same payload through no bot logic at all.

A bare aiohttp client streams one response from the fake OpenAI, and for every image event does the least any
bot must do: parse the event, base64-decode the image, and upload the bytes as multipart to the fake Discord.
The fakes time it exactly as they time the bot (event written → upload body received), so the two compare.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp

from bot.core.options import ImageOptions
from bot.core.request import ModelConfig, build_request


def floor_body(prompt: str, partials: int) -> dict[str, Any]:
    options = ImageOptions(size="1536x1024", quality="auto", background="auto", format="png", compression=None)
    return build_request(
        ModelConfig(model="gpt-5.4-mini", image_model=None, partial_images=partials),
        prompt=prompt, options=options, user_id=1, previous_response_id=None, input_images=[],
        partial_images=partials,
    )


async def floor_generation(session: aiohttp.ClientSession, info: dict[str, Any], prompt: str, partials: int) -> int:
    """One streamed generation, each image uploaded as it arrives; returns how many images were uploaded."""
    headers = {"Authorization": f"Bearer {info['openai_api_key']}"}
    url = f"{info['openai_base_url']}/responses"
    uploaded = 0
    response_id = ""
    async with session.post(url, json=floor_body(prompt, partials), headers=headers) as response:
        response.raise_for_status()
        buffer = bytearray()
        async for chunk in response.content.iter_any():
            scan_from = max(0, len(buffer) - 1)
            buffer += chunk
            while (end := buffer.find(b"\n\n", scan_from)) >= 0:
                block = bytes(buffer[:end])
                del buffer[: end + 2]
                scan_from = 0
                event = _event_data(block)
                if event is None:
                    continue
                kind = event.get("type")
                if kind == "response.created":
                    response_id = event["response"]["id"]
                elif kind == "response.image_generation_call.partial_image":
                    await _upload(session, info, response_id, "partial", event["partial_image_index"],
                                  base64.b64decode(event["partial_image_b64"]))
                    uploaded += 1
                elif kind == "response.output_item.done" and event["item"].get("type") == "image_generation_call":
                    await _upload(session, info, response_id, "final", 0, base64.b64decode(event["item"]["result"]))
                    uploaded += 1
    return uploaded


def _event_data(block: bytes) -> dict[str, Any] | None:
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data: dict[str, Any] = json.loads(line[5:])
            return data
    return None


async def _upload(
    session: aiohttp.ClientSession, info: dict[str, Any], response_id: str, kind: str, index: int, image: bytes
) -> None:
    name = f"floor-{response_id}-{kind}-{index}.png"
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "floor", "attachments": [{"id": 0, "filename": name}]}),
                   content_type="application/json")
    form.add_field("files[0]", image, filename=name, content_type="application/octet-stream")
    url = f"{info['discord_api_base']}/channels/{info['text_channel_id']}/messages"
    async with session.post(url, data=form, headers={"Authorization": f"Bot {info['discord_token']}"}) as response:
        response.raise_for_status()
        await response.read()
