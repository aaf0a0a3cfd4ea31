"""Run one generation against OpenAI and yield typed updates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import openai

from bot.core.errors import ImageError, StreamBroken, from_openai
from bot.core.i18n import tr
from bot.core.retry import RetryPolicy
from bot.core.stream import translate
from bot.core.updates import Update

log = logging.getLogger(__name__)
T = TypeVar("T")

OnRetry = Callable[[float, int, int, ImageError], Awaitable[None]]


class OpenAIImageEngine:
    """The only place that calls `responses.create`."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, retry: RetryPolicy | None = None, idle_timeout: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._idle_timeout = idle_timeout
        self._sleep = sleep

    async def generate(
        self, body: dict[str, Any], on_retry: OnRetry | None = None, api_key: str | None = None,
    ) -> AsyncGenerator[Update, None]:
        """api_key: a server's own key for this job (its own budgets apply, not the owner's caps); None: the bot's."""
        requested_format = body["tools"][0].get("output_format", "png")
        # with_options shares the connection pool; only the Authorization header differs.
        client = self._client if api_key is None else self._client.with_options(api_key=api_key)
        stream = await self._open(client, body, on_retry)
        try:
            async with stream:
                events = _idle_limited(stream, self._idle_timeout)
                async for update in translate(events, requested_format=requested_format):
                    yield update
                    del update  # not held while the next event is awaited (a preview is megabytes)
        except ImageError:
            raise
        except openai.OpenAIError as exc:
            # Once the stream started nothing is retried: an image may already be billed.
            error = from_openai(exc)
            log.warning("openai stream failed: %s (%s)", type(exc).__name__, error)
            raise error from exc

    async def _open(self, client: openai.AsyncOpenAI, body: dict[str, Any], on_retry: OnRetry | None) -> Any:
        attempt = 0
        while True:
            try:
                return await client.responses.create(**body)
            except openai.OpenAIError as exc:
                error = from_openai(exc)
                delay = self._retry.delay(exc, error, attempt)
                request_id = getattr(exc, "request_id", None)
                log.warning("openai request failed (attempt %d, request %s): %s", attempt + 1, request_id, error)
                if delay is None:
                    raise error from exc
                attempt += 1
                if on_retry is not None:
                    await on_retry(delay, attempt + 1, self._retry.attempts, error)
                await self._sleep(delay)


async def _idle_limited(events: AsyncIterator[T], seconds: float) -> AsyncIterator[T]:
    """Re-yield events, giving up when OpenAI sends nothing for `seconds` (a stalled stream)."""
    iterator = aiter(events)
    while True:
        try:
            async with asyncio.timeout(seconds):
                event = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StreamBroken(
                tr("OpenAI stopped sending the image partway through. Please try again."),
                detail=f"no stream event for {seconds:g} s",
            ) from None
        yield event
