"""Versioned migrations: numbered .sql files applied in order, tracked in PRAGMA user_version."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import aiosqlite

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str = "bot.storage.migrations") -> list[Migration]:
    """The numbered .sql files of a migrations package, in order; gaps in the numbering are an error."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def current_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, migrations: list[Migration] | None = None) -> int:
    """Apply pending migrations, each in its own transaction; return the resulting version."""
    migrations = load_migrations() if migrations is None else migrations
    version = await current_version(conn)
    latest = migrations[-1].version if migrations else 0
    if version > latest:
        raise RuntimeError(f"database schema v{version} is newer than this bot (v{latest}); upgrade the bot")
    for migration in migrations:
        if migration.version <= version:
            continue
        log.info("applying migration %s", migration.name)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                await conn.execute(statement)
            # PRAGMA takes no parameters; the value is an int we computed.
            await conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
    return await current_version(conn)


def _statements(sql: str) -> list[str]:
    # Our migration files hold plain DDL without triggers, so ';' at a line end ends a statement.
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in body.split(";") if part.strip()]
