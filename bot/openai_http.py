"""The OpenAI client's HTTP transport: aiohttp, handing the stream over in whatever pieces have arrived.

A streamed image is one multi-megabyte event. The SDK's default transport reads it 64 KB at a time, and each read
costs a trip through anyio (a cancel scope, pausing and resuming the socket), httpcore and h11, about 40 trips
per image and, with many jobs, most of the bot's event-loop time. aiohttp parses the HTTP framing in C and keeps
reading into its buffer; here the SDK gets everything buffered at once. The SDK's own aiohttp option
(`openai.DefaultAioHttpClient`) hands over 16 KB pieces, which loses most of the gain.

Errors are raised as the httpx2 exceptions the default transport raises, so the SDK maps them to the same
`APITimeoutError` / `APIConnectionError` and the bot's retry rules do not change.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx2

# aiohttp pauses reading a response while this many bytes wait unread (twice its limit). A few megabytes let a
# whole image event arrive while the bot is busy with other jobs, instead of trickling in 128 KB per loop turn.
READ_BUFFER_BYTES = 4 * 1024 * 1024
# Most specific first: e.g. ClientConnectorError is a ClientConnectionError.
_ERRORS: tuple[tuple[type[Exception], type[httpx2.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx2.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx2.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx2.TimeoutException),
    (aiohttp.ClientProxyConnectionError, httpx2.ProxyError),
    (aiohttp.ClientConnectorError, httpx2.ConnectError),
    (aiohttp.ClientPayloadError, httpx2.ReadError),
    (aiohttp.InvalidURL, httpx2.UnsupportedProtocol),
    (aiohttp.ClientError, httpx2.NetworkError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:  # before TimeoutError: aiohttp's socket timeouts are both
        mapped = next(target for source, target in _ERRORS if isinstance(exc, source))
        raise mapped(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:  # aiohttp's connection-pool timeout is a plain TimeoutError
        raise httpx2.PoolTimeout(str(exc) or "timed out") from exc


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport over one aiohttp session (created on first use, inside the running loop)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Like the SDK's default client: certifi's CAs, proxies from the environment, no cookie jar,
                # no connection cap beyond the bot's own job limit.
                connector=aiohttp.TCPConnector(ssl=httpx2.create_ssl_context(), limit=0),
                read_bufsize=READ_BUFFER_BYTES // 2,
                trust_env=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        with _as_httpx_errors():
            response = await self._get_session().request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=await request.aread() or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx2 decodes Content-Encoding itself
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"), sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        return httpx2.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
