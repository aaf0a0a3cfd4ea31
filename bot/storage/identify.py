"""Spacing Discord IDENTIFYs when the database is SQLite: one process owns the file, so its own shards are all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class LocalIdentifySpacing:
    """The SQLite counterpart of PostgresBase.wait_to_identify: turns per bucket, `spacing` seconds apart."""

    # The time and the wait; tests set them on a store to drive the spacing by hand.
    identify_clock: Callable[[], float] = staticmethod(time.monotonic)
    identify_sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    async def wait_to_identify(self, bucket: int, spacing: float) -> None:
        turns: dict[int, float] = self.__dict__.setdefault("_identify_turns_at", {})
        now = self.identify_clock()
        # Claimed before sleeping, so shards asking at the same moment queue up instead of going together.
        start = max(now, turns.get(bucket, 0.0))
        turns[bucket] = start + spacing
        await self.identify_sleep(start - now)
