"""Versioned PostgreSQL migrations: pg_migrations/NNNN_*.sql applied in order, tracked in `schema_migrations`.

The files mirror bot/storage/migrations/ one for one (same numbers, same schema semantics), so both backends
report the same schema version. Several bot processes may start at once against one database: every step runs
under a transaction-scoped advisory lock and re-reads the version inside it, so each migration applies once.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.storage.migrate import Migration, load_migrations

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key serialising schema changes ("tpmigrat" as a big-endian int64).
MIGRATION_LOCK = int.from_bytes(b"tpmigrat", "big", signed=True)

_CREATE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def load_pg_migrations() -> list[Migration]:
    found = load_migrations("bot.storage.pg_migrations")
    versions = [m.version for m in found]
    sqlite_versions = [m.version for m in load_migrations()]
    if versions != sqlite_versions:
        raise RuntimeError(f"PostgreSQL migrations {versions} do not mirror the SQLite ones {sqlite_versions}")
    return found


async def current_version(conn: Any) -> int:
    """The applied schema version; 0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: Any, migrations: list[Migration] | None = None) -> int:
    """Apply pending migrations, each in its own transaction; return the resulting version.

    `conn` is an asyncpg connection (asyncpg ships no type information).
    """
    migrations = load_pg_migrations() if migrations is None else migrations
    latest = migrations[-1].version if migrations else 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(_CREATE_VERSIONS)
    for migration in migrations:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            version = await current_version(conn)
            if version > latest:
                raise RuntimeError(f"database schema v{version} is newer than this bot (v{latest}); upgrade the bot")
            if migration.version <= version:
                continue
            log.info("applying migration %s", migration.name)
            # No arguments: asyncpg sends the file with the simple protocol, which runs every statement in it.
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
            )
    version = await current_version(conn)
    if version > latest:
        raise RuntimeError(f"database schema v{version} is newer than this bot (v{latest}); upgrade the bot")
    return version
