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

# The image goes in once: stashed when it arrives (the usual way) or with the result.
_STASH = "INSERT INTO outbox (turn_id, image, format, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (turn_id) DO NOTHING"
_UNSTASH = "DELETE FROM outbox WHERE turn_id = ?"


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
            outbox = None if str(path) == ":memory:" else await OutboxWriter.open(Path(path))
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

    async def _write_all(self, statements: Sequence[Statement], *, stash: tuple[int, bytes, str] | None = None,
                         drop: Sequence[int] = ()) -> None:
        """One transaction of the given statements, first putting `stash` (a turn's image) in the outbox and last
        taking the images of the turns in `drop` out of it: on the outbox connection in one trip, else on the
        shared one."""
        image = None
        if stash is not None:
            turn_id, image_bytes, fmt = stash
            # With image files the row's image is NULL (the file is the image); in memory there is no folder.
            in_row = image_bytes if self._outbox is None else None
            statements = [(_STASH, (turn_id, in_row, fmt, now_text())), *statements]
            image = (turn_id, image_bytes)
        statements = [*statements, *((_UNSTASH, (turn_id,)) for turn_id in drop)]
        if self._outbox is not None:
            # One writer at a time, in arrival order. Left to SQLite, a writer polls for the lock while the other
            # connection keeps taking it: in a burst of 200 jobs some waited past busy_timeout ("database is locked").
            async with self._write_lock:
                await self._outbox.write(statements, image=image, drop=drop)
            return
        async with self._transaction() as conn:
            for sql, params in statements:
                await conn.execute(sql, params)

    async def _outbox_image(self, turn_id: int, blob: bytes | None) -> bytes | None:
        """An outbox row's image: its BLOB (rows from before image files, and in memory) or its file."""
        if blob is not None:
            return bytes(blob)
        return None if self._outbox is None else await self._outbox.read(turn_id)

    async def _sweep_images(self) -> None:
        """After deleting turns: their outbox rows went by cascade, so their image files go now."""
        if self._outbox is not None:
            await self._outbox.sweep()

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

    # One trip to the connection's thread each: a cursor (execute, fetch, close) took three, and every trip
    # waits for the event loop, which is busiest exactly when jobs are admitted.
    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        rows = list(await self._conn.execute_fetchall(sql, params))
        return rows[0] if rows else None

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        return list(await self._conn.execute_fetchall(sql, params))


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
