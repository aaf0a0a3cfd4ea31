"""Storage behind the core's Store protocol."""

from __future__ import annotations

from pathlib import Path

from bot.storage.sqlite import SqliteStore


async def open_store(path: Path | str) -> SqliteStore:
    return await SqliteStore.open(path)


__all__ = ["SqliteStore", "open_store"]
