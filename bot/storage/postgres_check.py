"""`threadpaint check` for a PostgreSQL DATABASE_URL: reachable, migrated to the latest schema, writable."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from bot.storage.postgres import PostgresStore
from bot.storage.postgres_migrate import current_version, load_pg_migrations


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def check_postgres(url: str) -> tuple[bool, str]:
    """(ok, detail): open the store as the bot does (migrating), then prove a write, rolled back."""
    shown = redacted(url)
    try:
        store = await PostgresStore.open(url, min_size=1, max_size=1)
        try:
            async with store._pool.acquire() as conn:
                version = await current_version(conn)
                latest = len(load_pg_migrations())
                if version != latest:
                    return False, f"{shown} is at schema v{version}, expected v{latest}"
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await conn.execute("CREATE TABLE threadpaint_write_check (x INTEGER)")
                finally:
                    await transaction.rollback()
        finally:
            await store.close()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return False, f"{shown}: {exc}"
    except RuntimeError as exc:  # schema newer than this bot, or broken migration files
        return False, f"{shown}: {exc}"
    return True, f"{shown} is writable, schema v{version} (latest)"
