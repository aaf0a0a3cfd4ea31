"""The aiohttp transport behaves like the SDK's default one: same errors, same bodies."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp import web

from bot.clients import openai_http_client

MODELS = {"object": "list", "data": [{"id": "gpt-5.4-mini", "object": "model", "created": 1, "owned_by": "openai"}]}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def models(request: web.Request) -> web.Response:
        if request.headers.get("X-Test") == "slow":
            await asyncio.sleep(2)
        body = gzip.compress(json.dumps(MODELS).encode())  # servers may compress: httpx2 decodes, not aiohttp
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(3):
            await response.write(b"x" * 300_000 + str(i).encode())
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


def client(base_url: str, read: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=base_url, max_retries=0,
                              timeout=openai.Timeout(read, connect=2.0), http_client=openai_http_client())


async def test_a_compressed_json_answer_is_decoded(server: str) -> None:
    async with client(server) as api:
        models = await api.models.list()
    assert [m.id for m in models.data] == ["gpt-5.4-mini"]


async def test_a_streamed_body_arrives_whole(server: str) -> None:
    async with openai_http_client() as http, http.stream("GET", f"{server}/stream") as response:
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert body == b"".join(b"x" * 300_000 + str(i).encode() for i in range(3))


async def test_nobody_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}/v1") as api:
        with pytest.raises(openai.APIConnectionError) as caught:
            await api.models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)


async def test_a_silent_server_is_a_timeout(server: str) -> None:
    async with client(server, read=0.3) as api:
        with pytest.raises(openai.APITimeoutError):
            await api.models.list(extra_headers={"X-Test": "slow"})
