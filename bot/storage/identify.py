"""Spacing Discord IDENTIFYs when the database is SQLite: one process owns the file, so its own shards are all."""

from __future__ import annotations

import asyncio
import time


class LocalIdentifySpacing:
    """The SQLite counterpart of PostgresBase.wait_to_identify: turns per bucket, `spacing` seconds apart."""

    async def wait_to_identify(self, bucket: int, spacing: float) -> None:
        turns: dict[int, float] = self.__dict__.setdefault("_identify_turns_at", {})
        now = time.monotonic()
        # Claimed before sleeping, so shards asking at the same moment queue up instead of going together.
        start = max(now, turns.get(bucket, 0.0))
        turns[bucket] = start + spacing
        await asyncio.sleep(start - now)
