"""The PostgreSQL connection pool every PostgreSQL query class shares, and its transactions."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Self

import asyncpg  # type: ignore[import-untyped]

from bot.storage.postgres_migrate import migrate

# asyncpg ships no type information: its connections and records are `Any` to mypy.
Connection = Any
Record = Any


def advisory_key(scope: str, subject_id: int) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock, one per (scope, id)."""
    digest = hashlib.blake2b(f"threadpaint:{scope}:{subject_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def rows_affected(status: str) -> int:
    """The row count of asyncpg's command status ('DELETE 3', 'UPDATE 1', 'INSERT 0 1')."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresBase:
    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._identify_turns: set[asyncio.Task[None]] = set()
        # How long a turn is held; tests replace it to hold a turn until they let go.
        self.identify_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> Self:
        """Connect a pool to `postgresql://…` and migrate to the latest schema."""
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def close(self) -> None:
        for turn in list(self._identify_turns):
            turn.cancel()  # releasing the connection unlocks it (asyncpg resets sessions on release)
        await asyncio.gather(*self._identify_turns, return_exceptions=True)
        await self._pool.close()

    async def wait_to_identify(self, bucket: int, spacing: float) -> None:
        """Wait for this identify bucket's turn across every process on the database, then hold the turn for
        `spacing` seconds: Discord accepts one IDENTIFY per bucket per 5 s, whichever process sends it."""
        key = advisory_key("identify", bucket)
        conn = await self._pool.acquire()
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", key)
        except BaseException:
            await self._pool.release(conn)
            raise

        async def hold() -> None:
            try:
                await self.identify_sleep(spacing)
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            finally:
                await self._pool.release(conn)

        turn = asyncio.create_task(hold(), name=f"identify-bucket-{bucket}")
        self._identify_turns.add(turn)
        turn.add_done_callback(self._identify_turns.discard)

    @asynccontextmanager
    async def _transaction(self, *lock_keys: int) -> AsyncIterator[Connection]:
        """One connection in one READ COMMITTED transaction, after taking the given advisory locks.

        The locks are transaction-scoped (released at COMMIT/ROLLBACK) and shared by every process using the
        database; they are taken in sorted order so two transactions can never wait on each other in a cycle.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            for key in sorted(set(lock_keys)):
                await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
            yield conn

    async def _one(self, sql: str, *params: object) -> Record | None:
        return await self._pool.fetchrow(sql, *params)

    async def _all(self, sql: str, *params: object) -> list[Record]:
        return list(await self._pool.fetch(sql, *params))

    async def _scalar(self, sql: str, *params: object, conn: Connection | None = None) -> int:
        value = await (conn or self._pool).fetchval(sql, *params)
        return int(value) if value is not None else 0


def lock_keys(pairs: Iterable[tuple[str, int | None]]) -> tuple[int, ...]:
    return tuple(advisory_key(scope, subject) for scope, subject in pairs if subject is not None)
