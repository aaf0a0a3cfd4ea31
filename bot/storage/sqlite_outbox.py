"""The transactions that carry finished images, on a SQLite connection of their own.

On the shared aiosqlite connection every statement is a round trip through the event loop, and under load each
trip waits for a busy loop: a 2 MB outbox write then held that connection, and every job's queries queued behind
it, for most of a second. Here a whole transaction is one call in this connection's own thread. And since with
synchronous=NORMAL the only fsyncs are WAL checkpoints, which SQLite otherwise runs inside whichever commit
crosses its threshold, checkpoints run in a third thread, after an image has left the outbox.

The images themselves are files (bot.storage.image_files), written and removed by this same thread around the
transactions that add and delete their rows, so that every row has its file and a sweep never races a write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Self

from bot.storage.image_files import ImageFiles

log = logging.getLogger(__name__)

Statement = tuple[str, tuple[object, ...]]

# Checkpoints normally run after each posted image (see `checkpoint_soon`). SQLite's own automatic checkpoint is
# only a backstop on every connection, with enough room (40 MB of pages) that it does not fire in normal work.
BACKSTOP_CHECKPOINT_PAGES = 10_000
# As the main connection (bot.storage.base): a writer waits for another connection's transaction to end.
BUSY_TIMEOUT_MS = 5000


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection with the settings every writer of the database uses."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
    return conn


class OutboxWriter:
    def __init__(self, path: Path, files: ImageFiles) -> None:
        # One thread per connection: each is only ever used from its own thread, one call at a time.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-outbox")
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._path = path
        self.files = files
        self._conn: sqlite3.Connection | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint: Future[None] | None = None

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open both connections (the database must exist and be in WAL mode already) and sweep the image folder
        of files that lost their row (see bot.storage.image_files)."""
        writer = cls(path, ImageFiles.beside(path))
        loop = asyncio.get_running_loop()
        try:
            writer._conn = await loop.run_in_executor(writer._writer, connect, path)
            writer._checkpoint_conn = await loop.run_in_executor(writer._checkpointer, connect, path)
            swept = await writer.sweep()
            if swept:
                log.info("removed %d image file(s) that no outbox row names any more", swept)
        except BaseException:
            await writer.close()
            raise
        return writer

    async def write(self, statements: Sequence[Statement], *, image: tuple[int, bytes] | None = None,
                    drop: Sequence[int] = ()) -> None:
        """Run the statements as one IMMEDIATE transaction, in one trip to the writer thread.

        `image` (turn id, bytes) is written to its file first, for the row the statements add; the files of
        `drop` (turn ids whose rows the statements delete) go once the transaction is committed.
        """
        await asyncio.get_running_loop().run_in_executor(self._writer, self._write, statements, image, drop)

    def _write(self, statements: Sequence[Statement], image: tuple[int, bytes] | None, drop: Sequence[int]) -> None:
        conn = self._conn
        assert conn is not None, "open() first"
        # The file is written under the database's write lock, so a sweep (which takes it too, in this process or
        # another one sharing the file) never sees it between being written and its row being committed.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if image is not None:
                self.files.put(*image)
            for sql, params in statements:
                conn.execute(sql, params)
        except BaseException:
            conn.execute("ROLLBACK")
            # The file stays only if a row (from an earlier, committed write) already names it.
            if image is not None and not conn.execute("SELECT 1 FROM outbox WHERE turn_id = ?", (image[0],)).fetchone():
                self.files.remove([image[0]])
            raise
        conn.execute("COMMIT")
        self.files.remove(drop)

    async def read(self, turn_id: int) -> bytes | None:
        """The image file of an outbox row whose `image` is NULL (None if it is missing)."""
        return await asyncio.to_thread(self.files.get, turn_id)

    async def sweep(self) -> int:
        """Remove image files no outbox row names (rows deleted with their turns: /forget, retention)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._sweep)

    def _sweep(self) -> int:
        conn = self._conn
        assert conn is not None, "open() first"
        conn.execute("BEGIN IMMEDIATE")  # no write is half-way (see _write) while the folder is compared
        try:
            keep = {row[0] for row in conn.execute("SELECT turn_id FROM outbox WHERE image IS NULL")}
            return self.files.sweep(keep)
        finally:
            conn.execute("COMMIT")

    def checkpoint_soon(self) -> None:
        """Start a passive checkpoint in the background unless one is already running (never waits)."""
        if self._checkpoint_conn is not None and (self._checkpoint is None or self._checkpoint.done()):
            self._checkpoint = self._checkpointer.submit(self._run_checkpoint)

    def _run_checkpoint(self) -> None:
        conn = self._checkpoint_conn
        if conn is None:
            return
        try:
            # PASSIVE: copies what it can without waiting for, or blocking, readers and writers.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (SQLite's automatic one remains): %s", exc)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        checkpoint_conn, self._checkpoint_conn = self._checkpoint_conn, None
        conn, self._conn = self._conn, None
        # Each close is queued behind its thread's running call, so nothing is cut off mid-transaction.
        if checkpoint_conn is not None:
            await loop.run_in_executor(self._checkpointer, checkpoint_conn.close)
        if conn is not None:
            await loop.run_in_executor(self._writer, conn.close)
        self._checkpointer.shutdown(wait=False)
        self._writer.shutdown(wait=False)
