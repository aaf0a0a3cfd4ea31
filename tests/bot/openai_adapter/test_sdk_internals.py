"""The SDK's private parts the bot builds on are still there, shaped as the bot expects.

The bot overrides two private hooks of the OpenAI client (bot.openai_adapter.client), subclasses ServerSentEvent
(bot.openai_adapter.sse, bot.openai_adapter.image_events) and the SDK's vendored aiohttp transport
(bot.openai_adapter.transport), and overrides httpx2's transport hooks. pyproject pins `openai` to the one minor
version these were checked against; when an upgrade moves any of them, these tests fail in CI with a message
saying what changed, instead of the bot failing in production.
"""

from __future__ import annotations

import importlib
import inspect
import ssl
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai.types.responses import ResponseStreamEvent
from packaging.requirements import Requirement
from packaging.version import Version

from bot.openai_adapter.client import ImageStreamingOpenAI, SkipKeepalives, openai_http_client
from bot.openai_adapter.transport import AiohttpClient
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[3]
UPGRADE = (
    "bot/openai_adapter/transport.py and bot/openai_adapter/client.py were written against it: "
    "re-check them, then move the pin"
)


def parameters(function: Callable[..., Any]) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(function).parameters.values()]


def test_the_installed_sdk_is_the_single_minor_version_pinned() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pin = next(Requirement(d) for d in dependencies if Requirement(d).name == "openai")
    assert pin.extras == {"aiohttp"}, "the bot runs on the SDK's aiohttp client: depend on openai[aiohttp]"
    installed = Version(openai.__version__)
    assert installed in pin.specifier, f"openai {installed} is installed but pyproject pins {pin.specifier}. {UPGRADE}"
    lower = min(Version(s.version) for s in pin.specifier if s.operator == ">=")
    upper = Version(f"{lower.major}.{lower.minor + 1}")
    assert upper not in pin.specifier and f"<{upper}" in {str(s) for s in pin.specifier}, (
        f"pin openai below {upper}: its private hooks may change in any minor release"
    )


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("openai._streaming", "ServerSentEvent"),
        ("openai._streaming", "SSEDecoder"),
        ("openai._streaming", "SSEBytesDecoder"),
        ("openai._types", "ResponseT"),
        ("openai._vendor.httpx_aiohttp", "Httpx2AiohttpClient"),
        ("openai._vendor.httpx_aiohttp.transport", "AiohttpTransport"),
        ("openai._vendor.httpx_aiohttp.transport", "AiohttpResponseStream"),
    ],
)
def test_the_private_names_the_bot_imports_exist(module: str, name: str) -> None:
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        found = None
    assert found is not None, f"{module}.{name} is gone from openai {openai.__version__}. {UPGRADE}"


@pytest.mark.parametrize("hook", ["_make_sse_decoder", "_process_response_data"])
def test_the_client_hooks_the_bot_overrides_keep_their_signatures(hook: str) -> None:
    sdk = getattr(openai.AsyncOpenAI, hook, None)
    assert sdk is not None, f"openai.AsyncOpenAI.{hook} is gone: ImageStreamingOpenAI overrides it. {UPGRADE}"
    assert parameters(getattr(ImageStreamingOpenAI, hook)) == parameters(sdk), (
        f"openai.AsyncOpenAI.{hook} changed its signature to {inspect.signature(sdk)}. {UPGRADE}"
    )


@pytest.mark.parametrize("hook", ["_init_transport", "_init_proxy_transport"])
def test_the_httpx2_hooks_the_bot_overrides_keep_their_signatures(hook: str) -> None:
    sdk = getattr(httpx2.AsyncClient, hook, None)
    assert sdk is not None, (
        f"httpx2.AsyncClient.{hook} is gone: bot.openai_adapter.transport.AiohttpClient overrides it. {UPGRADE}"
    )
    assert [name for name, _ in parameters(getattr(AiohttpClient, hook))] == [name for name, _ in parameters(sdk)], (
        f"httpx2.AsyncClient.{hook} changed its signature to {inspect.signature(sdk)}. {UPGRADE}"
    )


def test_the_sdks_aiohttp_transport_is_shaped_as_the_bot_expects() -> None:
    from openai._vendor.httpx_aiohttp import Httpx2AiohttpClient
    from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport

    assert issubclass(openai.DefaultAioHttpClient, Httpx2AiohttpClient), f"openai.DefaultAioHttpClient moved. {UPGRADE}"
    proxy = httpx2.Proxy("http://127.0.0.1:3128")
    transport = AiohttpTransport(verify=True, cert=None, trust_env=True, http1=True, http2=False,
                                 limits=httpx2.Limits(max_connections=3), proxy=proxy)
    # Read by AiohttpTransport.get_client in bot.openai_adapter.transport, which replaces the SDK's.
    assert isinstance(transport.ssl_context, ssl.SSLContext), f"the SDK transport's ssl_context changed. {UPGRADE}"
    assert transport.limits.max_connections == 3, f"the SDK transport's limits changed. {UPGRADE}"
    assert transport.proxy is proxy, f"the SDK transport's proxy changed. {UPGRADE}"
    assert parameters(AiohttpTransport.get_client) == [("self", "POSITIONAL_OR_KEYWORD")], (
        f"the SDK transport's get_client changed. {UPGRADE}"
    )
    assert parameters(AiohttpTransport.handle_async_request) == [
        ("self", "POSITIONAL_OR_KEYWORD"), ("request", "POSITIONAL_OR_KEYWORD")
    ], f"the SDK transport's handle_async_request changed. {UPGRADE}"
    response = object()
    assert getattr(AiohttpResponseStream(response), "_aiohttp_response", None) is response, (  # type: ignore[arg-type]
        f"the SDK's response stream no longer keeps the aiohttp response as _aiohttp_response. {UPGRADE}"
    )


async def test_the_sdk_streams_through_the_bots_decoder_and_event_parser(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ImageStreamingOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0,
                                  _strict_response_validation=True, http_client=openai_http_client(2))
    decoders: list[object] = []
    parsed: list[object] = []
    make_decoder, process = client._make_sse_decoder, client._process_response_data

    def record_decoder() -> Any:
        decoders.append(make_decoder())
        return decoders[-1]

    def record_event(**kwargs: Any) -> Any:
        parsed.append(process(**kwargs))
        return parsed[-1]

    monkeypatch.setattr(client, "_make_sse_decoder", record_decoder)
    monkeypatch.setattr(client, "_process_response_data", record_event)
    async with client:
        stream = await client.responses.create(
            model="gpt-5.4-mini", input="a cat", stream=True,
            tools=[{"type": "image_generation", "quality": "low", "size": "1024x1024", "partial_images": 1}],
        )
        events: list[ResponseStreamEvent] = [event async for event in stream]
    assert [type(d) for d in decoders] == [SkipKeepalives], "the SDK no longer builds its stream decoder by the hook"
    assert parsed == events, "the SDK no longer turns stream events into objects by _process_response_data"
    assert events[-1].type == "response.completed"
