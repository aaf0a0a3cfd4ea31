"""The fair queue: a global limit on concurrent generations, shared round-robin between servers."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], None]


@dataclass(eq=False)
class _Waiter:
    key: Hashable
    granted: asyncio.Future[None]
    on_position: PositionCallback | None
    position: int = field(default=0)


class FairQueue:
    """FIFO within a server, round-robin across servers, so one busy server cannot starve the others."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._queues: OrderedDict[Hashable, deque[_Waiter]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @asynccontextmanager
    async def slot(self, key: Hashable, on_position: PositionCallback | None = None) -> AsyncIterator[None]:
        """Hold one of the `limit` generation slots; `on_position(n)` hears the place in line while waiting."""
        if self.running < self.limit and not self._queues:
            self.running += 1
        else:
            await self._wait(key, on_position)
        try:
            yield
        finally:
            self.running -= 1
            self._grant()

    async def _wait(self, key: Hashable, on_position: PositionCallback | None) -> None:
        waiter = _Waiter(key, asyncio.get_running_loop().create_future(), on_position)
        self._queues.setdefault(key, deque()).append(waiter)
        self._announce()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Granted in the same instant it was cancelled: hand the slot on.
                self.running -= 1
                self._grant()
            else:
                self._remove(waiter)
                self._announce()
            raise

    def order(self) -> list[_Waiter]:
        """Waiters in the order they will be served: take one per server in turn."""
        queues = [list(q) for q in self._queues.values()]
        result: list[_Waiter] = []
        depth = 0
        while any(depth < len(q) for q in queues):
            result.extend(q[depth] for q in queues if depth < len(q))
            depth += 1
        return result

    def _grant(self) -> None:
        while self.running < self.limit and self._queues:
            key, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            # Rotate: the server just served goes to the back of the round.
            del self._queues[key]
            if queue:
                self._queues[key] = queue
            if waiter.granted.done():
                continue
            self.running += 1
            waiter.granted.set_result(None)
        self._announce()

    def _remove(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.key)
        if queue is None:
            return
        try:
            queue.remove(waiter)
        except ValueError:
            return
        if not queue:
            del self._queues[waiter.key]

    def _announce(self) -> None:
        for place, waiter in enumerate(self.order(), start=1):
            if waiter.position != place and waiter.on_position is not None:
                waiter.position = place
                try:
                    waiter.on_position(place)
                except Exception:
                    log.warning("queue position callback failed", exc_info=True)
