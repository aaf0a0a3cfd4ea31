"""PostgreSQL-only details: `schema_migrations` versions, migration safety, and choosing the backend by URL.

The behaviour both stores share is in test_store_contract.py, test_privacy.py and test_usage.py.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.storage import PostgresStore, open_store, open_store_url
from bot.storage.migrate import Migration, load_migrations
from bot.storage.postgres_check import check_postgres, redacted
from bot.storage.postgres_migrate import current_version, load_pg_migrations, migrate
from tests.bot.storage.conftest import StoreFactory


@pytest.fixture
def pg_url(store_factory: StoreFactory) -> str:
    """A fresh, empty PostgreSQL database of this test's own."""
    assert store_factory.backend == "postgres"
    return str(store_factory.target)


# The contract fixture, postgres flavour only.
postgres_only = pytest.mark.parametrize("store_factory", ["postgres"], indirect=True)


def test_postgres_migrations_mirror_the_sqlite_ones() -> None:
    assert [(m.version, m.name) for m in load_pg_migrations()] == [(m.version, m.name) for m in load_migrations()]


@postgres_only
async def test_open_migrates_and_records_versions(pg_url: str) -> None:
    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        assert await current_version(conn) == len(load_migrations())
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in load_pg_migrations()]
        tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"threads", "turns", "outbox", "guild_settings", "schema_migrations"} <= tables
        assert await migrate(conn) == len(load_migrations())  # idempotent
    finally:
        await conn.close()


@postgres_only
async def test_open_store_url_chooses_postgres(pg_url: str) -> None:
    store = await open_store_url(pg_url)
    assert isinstance(store, PostgresStore)
    await store.close()
    store = await open_store_url(pg_url.replace("postgresql://", "postgres://", 1))
    assert isinstance(store, PostgresStore)
    await store.close()


@postgres_only
async def test_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(4)))
    for store in stores:
        await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    finally:
        await conn.close()


@postgres_only
async def test_failed_migration_rolls_back(pg_url: str) -> None:
    good = load_pg_migrations()
    broken = [*good, Migration(len(good) + 1, "9999_broken.sql", "CREATE TABLE ok (x INTEGER);\nNOT SQL;")]
    conn = await asyncpg.connect(pg_url)
    try:
        await migrate(conn)
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await migrate(conn, broken)
        assert await current_version(conn) == len(good)
        assert await conn.fetchval("SELECT to_regclass('ok')") is None
    finally:
        await conn.close()


@postgres_only
async def test_newer_schema_is_refused(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future.sql')")
        with pytest.raises(RuntimeError, match="newer"):
            await migrate(conn)
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await PostgresStore.open(pg_url)


@postgres_only
async def test_check_postgres_reports_a_writable_migrated_database(pg_url: str) -> None:
    ok, detail = await check_postgres(pg_url)
    assert ok and "writable, schema v6" in detail
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('threadpaint_write_check')") is None  # rolled back
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future.sql')")
    finally:
        await conn.close()
    ok, detail = await check_postgres(pg_url)
    assert not ok and "newer than this bot" in detail


async def test_check_postgres_reports_an_unreachable_server_without_the_password() -> None:
    ok, detail = await check_postgres("postgresql://bot:s3cret@127.0.0.1:1/threadpaint")
    assert not ok and "s3cret" not in detail and "bot:***@127.0.0.1:1" in detail
    assert redacted("postgresql://bot@host/db") == "postgresql://bot@host/db"
