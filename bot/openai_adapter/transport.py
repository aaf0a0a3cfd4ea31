"""The OpenAI client's HTTP client: the SDK's aiohttp option, handing the stream over in whatever pieces have arrived.

A streamed image is one multi-megabyte event. The SDK's default transport reads it 64 KB at a time, and each read
costs a trip through anyio (a cancel scope, pausing and resuming the socket), httpcore and h11, about 40 trips
per image and, with many jobs, most of the bot's event-loop time. aiohttp parses the HTTP framing in C and keeps
reading into its buffer. The SDK's own aiohttp option (`openai.DefaultAioHttpClient`) hands the body over in
16 KB pieces from a 64 KB buffer, which loses most of the gain; this client is that option with two changes:
a 4 MB read buffer, and the body handed over as it is buffered.

Everything else is the SDK's: its defaults (timeouts, redirects), proxies from the same variables with the same
precedence (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, resolved by httpx2), and SOCKS proxies through httpx2's
own transport, so they work when `socksio` is installed and fail with the SDK's own error when it is not
(aiohttp has no SOCKS support). The pool is capped (`max_connections`).

Errors are raised as the httpx2 exceptions the default transport raises (the SDK's aiohttp option reports a refused
connection as a timeout), so the SDK maps them to the same `APITimeoutError` / `APIConnectionError` and the bot's
retry rules do not change.

The transport and stream classes come from the SDK's private `openai._vendor.httpx_aiohttp`; pyproject pins the SDK
to the minor version they were checked against and tests/bot/openai_adapter/test_sdk_internals.py fails if they change.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx2
import openai
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream
from openai._vendor.httpx_aiohttp.transport import AiohttpTransport as SDKAiohttpTransport

# aiohttp pauses reading a response while this many bytes wait unread (twice its limit). A few megabytes let a
# whole image event arrive while the bot is busy with other jobs, instead of trickling in 128 KB per loop turn.
READ_BUFFER_BYTES = 4 * 1024 * 1024
SOCKS_SCHEMES = ("socks5", "socks5h")
# Most specific first: e.g. ClientConnectorError is a ClientConnectionError.
_ERRORS: tuple[tuple[type[Exception], type[httpx2.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx2.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx2.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx2.TimeoutException),
    (aiohttp.ClientProxyConnectionError, httpx2.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx2.ProxyError),
    (aiohttp.ClientConnectorError, httpx2.ConnectError),
    (aiohttp.ClientPayloadError, httpx2.ReadError),
    (aiohttp.InvalidURL, httpx2.UnsupportedProtocol),
    (aiohttp.ClientError, httpx2.NetworkError),
)


def _mapped(exc: BaseException) -> httpx2.TransportError:
    if isinstance(exc, aiohttp.ClientError):
        target = next(target for source, target in _ERRORS if isinstance(exc, source))
        return target(str(exc) or type(exc).__name__)
    return httpx2.PoolTimeout(str(exc) or "timed out")  # aiohttp's connection-pool timeout is a plain TimeoutError


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpx2.TransportError as exc:
        # Already mapped by the SDK's transport, by its own table: map the aiohttp error again by ours.
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError | TimeoutError):
            raise _mapped(cause) from cause
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:  # ClientError first: aiohttp's socket timeouts are both
        raise _mapped(exc) from exc


class _Body(AiohttpResponseStream):
    """The SDK's response stream, reading everything buffered instead of 16 KB pieces."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._aiohttp_response.content.iter_any():
                yield chunk


class AiohttpTransport(SDKAiohttpTransport):
    """The SDK's aiohttp transport with a large read buffer; the session is created on first use, inside the loop."""

    def get_client(self) -> aiohttp.ClientSession:
        # The SDK's session settings, plus the read buffer and no cookie jar (httpx2 keeps the client's cookies).
        limits: httpx2.Limits = self.limits
        connector = aiohttp.TCPConnector(
            ssl=self.ssl_context, limit=limits.max_connections or 0, keepalive_timeout=limits.keepalive_expiry
        )
        return aiohttp.ClientSession(
            connector=connector, read_bufsize=READ_BUFFER_BYTES // 2, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        with _as_httpx_errors():
            response = await super().handle_async_request(request)
        sdk_stream = response.stream
        if isinstance(sdk_stream, AiohttpResponseStream):  # always, in the pinned SDK (see the tests)
            response.stream = _Body(sdk_stream._aiohttp_response)
        return response


class AiohttpClient(openai.DefaultAioHttpClient):
    """`openai.DefaultAioHttpClient` over the transport above; SOCKS proxies go through httpx2's transport."""

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx2.Limits = httpx2.Limits(),  # noqa: B008  (httpx2's signature; the SDK always passes its own)
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> httpx2.AsyncBaseTransport:
        if transport is not None:
            return transport
        return AiohttpTransport(verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits)

    def _init_proxy_transport(
        self,
        proxy: httpx2.Proxy,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx2.Limits = httpx2.Limits(),  # noqa: B008
    ) -> httpx2.AsyncBaseTransport:
        if proxy.url.scheme in SOCKS_SCHEMES:
            # httpx2's own transport: SOCKS through `socksio`, or the SDK's ImportError naming it, never direct.
            return httpx2.AsyncHTTPTransport(
                verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits, proxy=proxy
            )
        return AiohttpTransport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits, proxy=proxy
        )

