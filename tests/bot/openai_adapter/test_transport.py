"""The aiohttp client behaves like the SDK's default one: same errors, same bodies, same proxies; a capped pool."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp import web
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream

from bot.openai_adapter.client import SPARE_CONNECTIONS, build_openai_client, openai_http_client
from bot.settings import Settings

MODELS = {"object": "list", "data": [{"id": "gpt-5.4-mini", "object": "model", "created": 1, "owned_by": "openai"}]}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def models(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Test") == "slow":
            await asyncio.sleep(2)
        if request.headers.get("X-Test") == "hold":  # answer, then keep the body (and the connection) open
            held = web.StreamResponse(headers={"Content-Type": "application/json"})
            await held.prepare(request)
            await held.write(b"{")
            await release.wait()
            return held
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
        release.set()
        await runner.cleanup()


def client(base_url: str, read: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=base_url, max_retries=0,
                              timeout=openai.Timeout(read, connect=2.0), http_client=openai_http_client(4))


async def test_a_compressed_json_answer_is_decoded(server: str) -> None:
    async with client(server) as api:
        models = await api.models.list()
    assert [m.id for m in models.data] == ["gpt-5.4-mini"]


async def test_a_streamed_body_arrives_whole(server: str) -> None:
    async with openai_http_client(4) as http, http.stream("GET", f"{server}/stream") as response:
        chunks = [chunk async for chunk in response.aiter_raw()]
    assert b"".join(chunks) == b"".join(b"x" * 300_000 + str(i).encode() for i in range(3))
    # Handed over as buffered, not in the SDK's aiohttp pieces (the speed this client exists for).
    assert max(map(len, chunks)) > AiohttpResponseStream.CHUNK_SIZE


def free_port() -> int:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_nobody_listening_is_a_connection_error() -> None:
    async with client(f"http://127.0.0.1:{free_port()}/v1") as api:
        with pytest.raises(openai.APIConnectionError) as caught:
            await api.models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)


async def test_a_silent_server_is_a_timeout(server: str) -> None:
    async with client(server, read=0.3) as api:
        with pytest.raises(openai.APITimeoutError):
            await api.models.list(extra_headers={"X-Test": "slow"})


# A fake HTTP proxy on 127.0.0.1: records each request head; answers plain requests itself (as if from upstream)
# and refuses tunnels, so a test sees what reached the proxy and whether the answer came through it.
PROXIED = {"object": "list", "data": [{"id": "via-proxy", "object": "model", "created": 1, "owned_by": "proxy"}]}


class FakeProxy:
    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        self.request_lines.append(line)
        if line.startswith("CONNECT "):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else:
            body = json.dumps(PROXIED).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FakeProxy]:
    fake = FakeProxy()
    listener = await asyncio.start_server(fake._handle, "127.0.0.1", 0)
    fake.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield fake
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Start from an environment without proxy variables (in either case), as the tests set their own."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_all_proxy_carries_the_requests(server: str, proxy: FakeProxy, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("ALL_PROXY", proxy.url)
    async with client(server) as api:
        models = await api.models.list()
    assert [m.id for m in models.data] == ["via-proxy"]
    assert proxy.request_lines == [f"GET {server}/models HTTP/1.1"]


async def test_http_proxy_carries_http_requests(
    server: str, proxy: FakeProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    async with client(server) as api:
        models = await api.models.list()
    assert [m.id for m in models.data] == ["via-proxy"]
    assert proxy.request_lines == [f"GET {server}/models HTTP/1.1"]


async def test_no_proxy_hosts_go_direct(server: str, proxy: FakeProxy, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("ALL_PROXY", proxy.url)
    no_proxy_env.setenv("NO_PROXY", "example.org,127.0.0.1")
    async with client(server) as api:
        models = await api.models.list()
    assert [m.id for m in models.data] == ["gpt-5.4-mini"]
    assert proxy.request_lines == []


async def test_https_goes_through_a_connect_tunnel(proxy: FakeProxy, no_proxy_env: pytest.MonkeyPatch) -> None:
    # The host does not exist: only the proxy is ever contacted. Its refusal is a connection error, not a timeout.
    no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
    async with client("https://api.openai.invalid/v1") as api:
        with pytest.raises(openai.APIConnectionError) as caught:
            await api.models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert proxy.request_lines == ["CONNECT api.openai.invalid:443 HTTP/1.1"]


async def test_a_proxy_nobody_listens_on_is_a_connection_error(server: str, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    async with client(server) as api:
        with pytest.raises(openai.APIConnectionError) as caught:
            await api.models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)


@pytest.mark.parametrize(
    ("variable", "url", "error"),
    [
        ("ALL_PROXY", "socks5://127.0.0.1:1080", "'socksio' package is not installed"),
        ("HTTPS_PROXY", "socks5h://127.0.0.1:1080", "'socksio' package is not installed"),
        ("all_proxy", "socks5://127.0.0.1:1080", "'socksio' package is not installed"),
        ("ALL_PROXY", "socks4://127.0.0.1:1080", "Unknown scheme for proxy URL"),
    ],
)
def test_a_proxy_it_cannot_use_fails_like_the_sdk(
    variable: str, url: str, error: str, no_proxy_env: pytest.MonkeyPatch
) -> None:
    # aiohttp cannot speak SOCKS; going direct instead would bypass the operator's proxy silently.
    no_proxy_env.setenv(variable, url)
    with pytest.raises((ImportError, ValueError)) as sdk:
        openai.DefaultAsyncHttpxClient()
    with pytest.raises(sdk.type) as ours:
        openai_http_client(4)
    assert str(ours.value) == str(sdk.value)
    assert error in str(ours.value)


async def test_the_pool_is_capped(server: str) -> None:
    # One request holds its connection; a second waits for the pool (here 0.5 s, then the SDK's timeout error).
    # With room for two, the second one is answered while the first still holds its connection.
    for cap, second_gets_through in ((1, False), (2, True)):
        http = openai_http_client(cap)
        api = openai.AsyncOpenAI(api_key="sk-test", base_url=server, max_retries=0, http_client=http,
                                 timeout=openai.Timeout(5.0, connect=2.0, pool=0.5))
        async with api, api.with_streaming_response.models.list(extra_headers={"X-Test": "hold"}) as first:
            assert first.status_code == 200
            if second_gets_through:
                models = await api.models.list()
                assert [m.id for m in models.data] == ["gpt-5.4-mini"]
            else:
                with pytest.raises(openai.APITimeoutError):
                    await api.models.list()


async def test_the_bots_pool_holds_its_job_limit_plus_spare_connections(server: str) -> None:
    settings = Settings.from_env(
        {"DISCORD_TOKEN": "token", "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server, "MAX_CONCURRENT_JOBS": "3"}
    )
    bot_client = build_openai_client(settings)
    api = bot_client.with_options(timeout=openai.Timeout(5.0, connect=2.0, pool=0.5))
    async with bot_client, contextlib.AsyncExitStack() as held:
        for _ in range(3 + SPARE_CONNECTIONS - 1):
            await held.enter_async_context(api.with_streaming_response.models.list(extra_headers={"X-Test": "hold"}))
        models = await api.models.list()  # the last free connection
        assert [m.id for m in models.data] == ["gpt-5.4-mini"]
        await held.enter_async_context(api.with_streaming_response.models.list(extra_headers={"X-Test": "hold"}))
        with pytest.raises(openai.APITimeoutError):
            await api.models.list()
