"""SQLite-only details: the file, WAL, PRAGMA user_version migrations. The behaviour both stores share is in
test_store_contract.py, test_privacy.py and test_usage.py."""

from pathlib import Path

import aiosqlite
import pytest

from bot.storage import SqliteStore, open_store, open_store_url
from bot.storage.migrate import Migration, current_version, load_migrations, migrate


async def test_open_creates_folder_migrates_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.db"
    store = await open_store(path)
    await store.close()
    async with aiosqlite.connect(path) as conn:
        assert await current_version(conn) == len(load_migrations())
        async with conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"  # type: ignore[index]
        async with conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name") as cursor:
            tables = [row[0] for row in await cursor.fetchall()]
    assert {"threads", "turns"} <= set(tables)


async def test_migrate_is_idempotent(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as conn:
        first = await migrate(conn)
        assert await migrate(conn) == first


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    good = load_migrations()
    broken = [*good, Migration(len(good) + 1, "9999_broken.sql", "CREATE TABLE ok (x INTEGER);\nNOT SQL;")]
    async with aiosqlite.connect(tmp_path / "x.db", isolation_level=None) as conn:
        with pytest.raises(aiosqlite.OperationalError):
            await migrate(conn, broken)
        assert await current_version(conn) == len(good)
        async with conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ok'") as cursor:
            assert (await cursor.fetchone())[0] == 0  # type: ignore[index]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as conn:
        await conn.execute("PRAGMA user_version = 99")
        with pytest.raises(RuntimeError, match="newer"):
            await migrate(conn)


async def test_open_store_takes_a_path_or_a_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await open_store(str(tmp_path / "a.db"))
    assert isinstance(store, SqliteStore)
    await store.close()
    monkeypatch.chdir(tmp_path)
    store = await open_store_url("sqlite:///data/b.db")  # relative to the working directory
    assert isinstance(store, SqliteStore)
    await store.close()
    assert (tmp_path / "a.db").exists() and (tmp_path / "data" / "b.db").exists()
    with pytest.raises(ValueError, match="unsupported DATABASE_URL"):
        await open_store_url("mysql://x")


async def test_database_file_is_private_and_a_new_folder_too(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "bot.db"
    store = await open_store(path)
    await store.close()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    for made in path.parent.iterdir():  # the database and SQLite's -wal/-shm files, which copy its mode
        private = 0o700 if made.is_dir() else 0o600  # the outbox's image folder (bot.storage.image_files)
        assert made.stat().st_mode & 0o777 == private, made.name
    assert {made.name for made in path.parent.iterdir()} >= {"bot.db", "bot.db-images"}
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    loose = existing / "bot.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    store = await open_store(loose)
    await store.close()
    assert loose.stat().st_mode & 0o777 == 0o600  # an existing readable file is tightened
    assert existing.stat().st_mode & 0o777 == 0o755  # a folder the owner made is left alone
