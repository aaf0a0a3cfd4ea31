"""Storage behind the core's Store protocol: SQLite (aiosqlite) or PostgreSQL (asyncpg), chosen by DATABASE_URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlsplit

from bot.core.reasons import connection_reason
from bot.storage.interface import BotStore
from bot.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from bot.storage.postgres import PostgresStore

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"


def is_postgres_url(value: str) -> bool:
    return value.startswith(_POSTGRES_SCHEMES)


@overload
async def open_store(database_url_or_path: Path) -> SqliteStore: ...


@overload
async def open_store(database_url_or_path: str) -> BotStore: ...


async def open_store(database_url_or_path: Path | str) -> BotStore:
    """Open (and migrate) the store for a SQLite path, a `sqlite:///…` URL or a `postgresql://…` URL."""
    if isinstance(database_url_or_path, str) and is_postgres_url(database_url_or_path):
        # Imported only here: asyncpg costs a SQLite bot (most installs) about 10 MB of memory for nothing.
        from bot.storage.postgres import PostgresStore

        return await PostgresStore.open(database_url_or_path)
    return await SqliteStore.open(_sqlite_path(database_url_or_path))


def _sqlite_path(value: Path | str) -> Path | str:
    """A path as given, or the path of a `sqlite:///…` URL (relative; `sqlite:////abs` is absolute)."""
    return value.removeprefix(_SQLITE_SCHEME) if isinstance(value, str) else value


class StoreUnavailable(Exception):
    """The database could not be opened; the message names it (without a password) and says why, on one line."""


async def open_store_url(url: str) -> BotStore:
    """Open the store DATABASE_URL names: `postgresql://…` (or `postgres://…`) or `sqlite:///path`."""
    if not (is_postgres_url(url) or (url.startswith(_SQLITE_SCHEME) and url != _SQLITE_SCHEME)):
        raise ValueError(f"unsupported DATABASE_URL {url!r}: use postgresql://… or sqlite:///path")
    errors: tuple[type[BaseException], ...] = (OSError, sqlite3.Error)
    if is_postgres_url(url):
        import asyncpg  # type: ignore[import-untyped]

        errors += (asyncpg.PostgresError, asyncpg.InterfaceError)
    try:
        return await open_store(url)
    except errors as exc:
        raise StoreUnavailable(f"cannot open the database {_shown(url)}: {connection_reason(exc)}") from exc


def _shown(url: str) -> str:
    if not is_postgres_url(url):
        return str(Path(url.removeprefix(_SQLITE_SCHEME)).absolute())
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def __getattr__(name: str) -> Any:
    """`bot.storage.PostgresStore`, imported on first use (see open_store)."""
    if name == "PostgresStore":
        from bot.storage.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BotStore", "PostgresStore", "SqliteStore", "StoreUnavailable", "is_postgres_url", "open_store", "open_store_url",
]
