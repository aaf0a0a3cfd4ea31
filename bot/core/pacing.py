"""Preview pacing: at most one preview per interval, the newest wins, stale ones are dropped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class PreviewPacer(Generic[T]):
    """Send offered items through `send` no faster than `interval`; `close` drops what is still pending."""

    def __init__(
        self,
        send: Callable[[T], Awaitable[None]],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._pending: T | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending = False
        self._closed = False
        self._last_sent = float("-inf")
        self.sent = 0
        self.dropped = 0

    def offer(self, item: T) -> None:
        if self._closed:
            return
        if self._pending is not None:
            self.dropped += 1
        self._pending = item
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="preview-pacer")

    async def close(self) -> None:
        """Stop; an in-flight send finishes (so it cannot land after the final), a pending one is dropped."""
        self._closed = True
        if self._pending is not None:
            self.dropped += 1
            self._pending = None
        task, self._task = self._task, None
        if task is None:
            return
        self._wake.set()
        if not self._sending:
            task.cancel()
        # asyncio.wait neither raises the task's cancellation nor swallows our own.
        await asyncio.wait([task])

    async def _run(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            delay = self._last_sent + self._interval - self._clock()
            if delay > 0:
                await self._sleep(delay)
            item, self._pending = self._pending, None
            if item is None or self._closed:
                continue
            self._last_sent = self._clock()
            self._sending = True
            try:
                await self._send(item)
                self.sent += 1
            except Exception:
                # A lost preview is cosmetic; the final image is delivered separately.
                log.warning("preview update failed", exc_info=True)
            finally:
                self._sending = False
                item = None  # sent: not kept while waiting for the next one (a preview is megabytes)
