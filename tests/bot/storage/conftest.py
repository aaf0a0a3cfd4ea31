"""The storage contract fixtures: every store test runs against SQLite and against a real PostgreSQL
(a throwaway server, see tests/postgres.py; each test gets its own fresh database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.storage import BotStore, PostgresStore, SqliteStore
from tests.postgres import PostgresServer, fresh_database

BACKENDS = ["sqlite", "postgres"]


@dataclass
class StoreFactory:
    """Opens stores of one backend on one fresh database: call it again for a second store (a restart, or a
    second bot process sharing the database). Everything opened is closed at the test's end."""

    backend: str
    target: str | Path
    opened: list[BotStore] = field(default_factory=list)

    async def __call__(self) -> BotStore:
        store: BotStore
        if self.backend == "postgres":
            store = await PostgresStore.open(str(self.target))
        else:
            store = await SqliteStore.open(self.target)
        self.opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()
        self.opened.clear()


@pytest.fixture(params=BACKENDS)
async def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    if request.param == "sqlite":
        factory = StoreFactory("sqlite", tmp_path / "bot.db")
        yield factory
        await factory.close_all()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    async with fresh_database(server) as url:
        factory = StoreFactory("postgres", url)
        try:
            yield factory
        finally:
            await factory.close_all()


@pytest.fixture
async def store(store_factory: StoreFactory) -> BotStore:
    """One open store of the test's backend (closed by the factory)."""
    return await store_factory()

