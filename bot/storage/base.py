"""The connection every query class shares: one aiosqlite connection (one worker thread), WAL, transactions."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.storage.migrate import migrate
from bot.storage.sqlite_outbox import BACKSTOP_CHECKPOINT_PAGES, OutboxWriter, Statement


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class SqliteBase:
    def __init__(self, conn: aiosqlite.Connection, outbox: OutboxWriter | None = None) -> None:
        self._conn = conn
        # One connection is shared by every job; transactions on it must not interleave.
        self._write_lock = asyncio.Lock()
        # The image-carrying transactions' own connection (see bot.storage.sqlite_outbox); None in memory, where
        # a second connection would see another database.
        self._outbox = outbox

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        """Open (creating the folder), switch to WAL and migrate to the latest schema."""
        if str(path) != ":memory:":
            private_database_file(Path(path))
        # isolation_level=None: we write BEGIN/COMMIT ourselves, so a unit of work is one transaction.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            await migrate(conn)
            outbox = None if str(path) == ":memory:" else await OutboxWriter.open(path)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, outbox)

    async def close(self) -> None:
        # The shared connection first: its thread keeps the process from exiting until closed, and a shutdown
        # may stop awaiting this coroutine at any await (the outbox's threads end at exit on their own).
        await self._conn.close()
        if self._outbox is not None:
            await self._outbox.close()

    async def _write_all(self, statements: Sequence[Statement]) -> None:
        """One transaction of the given statements: on the outbox connection in one trip, else on the shared one."""
        if self._outbox is not None:
            # One writer at a time, in arrival order. Left to SQLite, a writer polls for the lock while the other
            # connection keeps taking it: in a burst of 200 jobs some waited past busy_timeout ("database is locked").
            async with self._write_lock:
                await self._outbox.write(statements)
            return
        async with self._transaction() as conn:
            for sql, params in statements:
                await conn.execute(sql, params)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


def private_database_file(path: Path) -> None:
    """Create the database file readable by the bot's user only (0600), and its folder (0700) if it is new.

    Prompts, member ids and finished images live there. SQLite gives its -wal and -shm files the database file's
    mode, so they are private too. An existing file that others can read is tightened; an existing folder is the
    owner's choice and left alone.
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
