"""Clients the bot talks through, built from settings in one place."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import httpx2
import openai
from openai._streaming import ServerSentEvent, SSEBytesDecoder, SSEDecoder
from openai._types import ResponseT

from bot.openai_adapter.image_events import validate_stream_event
from bot.openai_adapter.sse import FastSSEDecoder
from bot.openai_adapter.transport import AiohttpClient
from bot.settings import ConfigError, Settings


class ImageStreamingOpenAI(openai.AsyncOpenAI):
    """The SDK's client, reading and parsing streams in ways that handle multi-megabyte image events cheaply."""

    def _make_sse_decoder(self) -> SSEDecoder | SSEBytesDecoder:
        return SkipKeepalives(FastSSEDecoder())

    def _process_response_data(self, *, data: object, cast_to: type[ResponseT], response: httpx2.Response) -> ResponseT:
        fill_known_gaps(data)
        event = validate_stream_event(data, cast_to)
        if event is not None:
            return cast(ResponseT, event)
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


# One streamed request per running job, plus a few for the start-up checks and a cancelled stream still closing.
SPARE_CONNECTIONS = 4


def openai_http_client(max_connections: int) -> httpx2.AsyncClient:
    """The SDK's aiohttp client with its defaults (bot.openai_adapter.transport), `max_connections` open per route."""
    limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return AiohttpClient(limits=limits)


def build_openai_client(settings: Settings) -> openai.AsyncOpenAI:
    # No SDK retries: a retried POST after a timeout can be a second billed image (no idempotency keys).
    return ImageStreamingOpenAI(
        api_key=settings.openai_api_key.get(),
        base_url=settings.openai_base_url,
        max_retries=0,
        timeout=openai.Timeout(settings.openai_timeout, connect=10.0),
        http_client=_http_client(settings),
    )


def _http_client(settings: Settings) -> httpx2.AsyncClient:
    try:
        return openai_http_client(settings.max_concurrent_jobs + SPARE_CONNECTIONS)
    except ImportError as exc:  # httpx2's: a SOCKS proxy from the environment needs `socksio`
        raise ConfigError(
            "a SOCKS proxy is set (ALL_PROXY, HTTPS_PROXY or HTTP_PROXY) but SOCKS support is not installed: "
            "pip install socksio, or unset the proxy"
        ) from exc


class SkipKeepalives:
    """Drops the undocumented `{"type": "keepalive"}` events the real service sends between others.

    The SDK has no type for them: it would reject them under strict validation and hand them on otherwise.
    """

    def __init__(self, inner: FastSSEDecoder) -> None:
        self._inner = inner

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[ServerSentEvent]:
        return (event for event in self._inner.iter_bytes(iterator) if not _is_keepalive(event))

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        async for event in self._inner.aiter_bytes(iterator):
            if not _is_keepalive(event):
                yield event


def _is_keepalive(event: ServerSentEvent) -> bool:
    data = event.data
    if event.event == "keepalive":
        return True
    if len(data) > 200 or '"keepalive"' not in data:
        return False
    try:
        parsed = json.loads(data)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "keepalive"


def fill_known_gaps(data: object) -> None:
    """Fill in, in place, the fields real responses have been seen without though the SDK's types require them.

    Missing counts become 0: what the bot charges never rests on them alone (bot.core.costs has a floor per
    delivered image), and a missing `tool_usage` stays missing.
    """
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        return
    response: dict[str, Any] = data["response"]
    usage = response.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("input_tokens_details"), dict):
        usage["input_tokens_details"].setdefault("cache_write_tokens", 0)
    tools = response.get("tool_usage")
    if not isinstance(tools, dict):
        return
    image = tools.get("image_gen")
    if isinstance(image, dict):
        for name in ("input_tokens", "output_tokens"):
            image.setdefault(name, 0)
        image.setdefault("input_tokens_details", {"image_tokens": 0, "text_tokens": 0})
        image.setdefault("total_tokens", image["input_tokens"] + image["output_tokens"])
        details = image.get("output_tokens_details")
        if isinstance(details, dict):
            details.setdefault("image_tokens", 0)
            details.setdefault("text_tokens", 0)
    tools.setdefault("web_search", {"num_requests": 0})
