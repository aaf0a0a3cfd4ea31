"""SQLite only: the outbox's own connection, its checkpoints, and the in-memory database that has neither."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.core.models import Delivery, NewTurn, TurnResult
from bot.core.options import ImageOptions
from bot.core.usage import Usage
from bot.storage import SqliteStore
from bot.storage.migrate import load_migrations, migrate

IMAGE = os.urandom(3_000_000)  # 3 MB of incompressible pages


def turn(interaction_id: int) -> NewTurn:
    return NewTurn(
        chain_id=None, interaction_id=interaction_id, guild_id=1, channel_id=800, user_id=5, kind="draw",
        prompt="a cat", options=ImageOptions(quality="low"), had_input_image=False, reply_channel_id=800,
        reply_message_id=None,
    )


async def deliver_one(store: SqliteStore, interaction_id: int) -> int:
    turn_id = await store.create_turn(turn(interaction_id))
    assert turn_id is not None
    await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
    [pending] = await store.pending_deliveries()
    assert pending.image == IMAGE and pending.turn.status == "delivering"
    await store.complete_turn(turn_id, Delivery(900 + turn_id, "thread", 800, 800, 950), owner_id=5, guild_id=1)
    assert await store.pending_deliveries() == [] and await store.outbox_size() == 0
    return turn_id


@pytest.mark.parametrize("where", ["file", "memory"])
async def test_an_image_goes_through_the_outbox(tmp_path: Path, where: str) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db" if where == "file" else ":memory:")
    try:
        turn_id = await deliver_one(store, 1)
        done = await store.get_turn(turn_id)
        assert done is not None and done.status == "done" and done.reply_message_id == 950
        assert (await store.get_head(900 + turn_id)) == done
    finally:
        await store.close()


async def test_a_failed_outbox_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"):  # no such turn: the insert fails, nothing is kept
            await store.save_result(12345, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
        assert await store.outbox_size() == 0
        assert list(images(tmp_path)) == []  # nor its file
        await deliver_one(store, 2)  # and the connection is usable afterwards
    finally:
        await store.close()


async def test_posted_turns_are_checkpointed_into_the_database_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    try:
        before = path.stat().st_size  # the schema is still in the WAL: nothing was checkpointed yet
        for interaction_id in range(3):
            await deliver_one(store, interaction_id)
        # Far below SQLite's own automatic checkpoint (see BACKSTOP_CHECKPOINT_PAGES): only the bot's
        # background checkpoint copies the pages from the WAL into the database file.
        outbox = store._outbox
        assert outbox is not None
        # The checkpoint thread runs one call at a time: a no-op queued behind it returns once it is done.
        await asyncio.get_running_loop().run_in_executor(outbox._checkpointer, lambda: None)
        assert path.stat().st_size > before
        # The images never went through the WAL or the database file: they were files (see the next tests).
        assert path.stat().st_size + (tmp_path / "bot.db-wal").stat().st_size < len(IMAGE)
    finally:
        await store.close()


def images(folder: Path) -> dict[str, bytes]:
    """The files in the outbox's image folder beside bot.db, by name."""
    return {p.name: p.read_bytes() for p in sorted((folder / "bot.db-images").iterdir())}


async def outbox_blob(store: SqliteStore, turn_id: int) -> object:
    async with store._conn.execute("SELECT image FROM outbox WHERE turn_id = ?", (turn_id,)) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def test_a_stashed_image_is_a_private_file_until_its_turn_is_posted(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        turn_id = await store.create_turn(turn(1))
        assert turn_id is not None
        await store.stash_image(turn_id, IMAGE, "png")
        assert images(tmp_path) == {f"{turn_id}.image": IMAGE}
        assert (tmp_path / "bot.db-images" / f"{turn_id}.image").stat().st_mode & 0o777 == 0o600
        assert await outbox_blob(store, turn_id) is None  # the row says an image waits; the file is the image
        await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), None, "png")
        [pending] = await store.pending_deliveries()
        assert pending.image == IMAGE and pending.format == "png"
        await store.complete_turn(turn_id, Delivery(900, "thread", 800, 800, 950), owner_id=5, guild_id=1)
        assert images(tmp_path) == {}
    finally:
        await store.close()


async def test_an_image_whose_post_failed_for_good_is_dropped_or_kept_as_asked(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        kept, dropped = await store.create_turn(turn(1)), await store.create_turn(turn(2))
        assert kept is not None and dropped is not None
        for turn_id in (kept, dropped):
            await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
        await store.abandon_delivery(kept, "gone", keep_image=True)
        await store.abandon_delivery(dropped, "gone", keep_image=False)
        assert list(images(tmp_path)) == [f"{kept}.image"]
    finally:
        await store.close()


async def test_a_restart_sweeps_image_files_no_row_names_and_keeps_the_rest(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    turn_id = await store.create_turn(turn(1))
    assert turn_id is not None
    await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
    await store.close()
    # As a crash leaves them: a file written whose row was never committed, and a write cut off half-way.
    folder = tmp_path / "bot.db-images"
    (folder / "777.image").write_bytes(b"orphan")
    (folder / f"{turn_id}.0123abcd.part").write_bytes(b"half")
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        assert images(tmp_path) == {f"{turn_id}.image": IMAGE}
        [pending] = await store.pending_deliveries()
        assert pending.turn.id == turn_id and pending.image == IMAGE
    finally:
        await store.close()


async def test_forget_and_retention_delete_the_images_of_the_turns_they_delete(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        # Finished variations nobody chose keep their images in the outbox (see migration 0004).
        mine, theirs = await store.create_turn(turn(1)), await store.create_turn(replace(turn(2), user_id=6))
        assert mine is not None and theirs is not None
        for turn_id in (mine, theirs):
            await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
            await store.complete_turn(turn_id, Delivery(800, "channel", None, 800, 950 + turn_id, moves_head=False),
                                      owner_id=5, guild_id=1)
        assert await store.kept_image(mine) == (IMAGE, "png")
        await store.forget_user(5)
        assert list(images(tmp_path)) == [f"{theirs}.image"]
        assert await store.kept_image(mine) is None and await store.kept_image(theirs) == (IMAGE, "png")
        await store.purge_before(datetime.now(UTC) + timedelta(days=1))
        assert images(tmp_path) == {}
    finally:
        await store.close()


async def test_images_stored_in_the_database_before_image_files_are_still_posted(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        turn_id = await store.create_turn(turn(1))
        assert turn_id is not None
        await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), None, "png")
        async with store._transaction() as conn:  # a row as schema 5 kept it: the image in the row
            await conn.execute("INSERT INTO outbox (turn_id, image, format, created_at) VALUES (?, ?, 'png', '')",
                               (turn_id, IMAGE))
        [pending] = await store.pending_deliveries()
        assert pending.image == IMAGE
        await store.complete_turn(turn_id, Delivery(900, "thread", 800, 800, 950), owner_id=5, guild_id=1)
        assert await store.outbox_size() == 0
    finally:
        await store.close()


async def test_migration_6_keeps_the_images_already_in_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA foreign_keys = ON")
        await migrate(conn, load_migrations()[:5])
        await conn.execute("INSERT INTO turns (interaction_id, guild_id, channel_id, user_id, kind, prompt, options, "
                           "had_input_image, status, created_at) VALUES (1, 1, 800, 5, 'draw', 'a cat', '{}', 0, "
                           "'delivering', '2026-11-30T00:00:00.000+00:00')")
        await conn.execute("INSERT INTO outbox VALUES (1, ?, 'png', '2026-11-30T00:00:00.000+00:00')", (IMAGE,))
    finally:
        await conn.close()
    store = await SqliteStore.open(path)
    try:
        [pending] = await store.pending_deliveries()
        assert pending.turn.id == 1 and pending.image == IMAGE
    finally:
        await store.close()


async def test_outbox_writes_wait_their_turn_instead_of_failing_on_a_locked_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no busy timeout at all, a write that reached SQLite while the shared connection holds the write lock
    # fails at once ("database is locked"): in a burst, writers that only poll for the lock could wait past any
    # timeout. The outbox's writes queue for the same lock as the shared connection's transactions instead.
    monkeypatch.setattr("bot.storage.sqlite_outbox.BUSY_TIMEOUT_MS", 0)
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        turn_id = await store.create_turn(turn(1))
        assert turn_id is not None and store._outbox is not None
        loop = asyncio.get_running_loop()
        async with store._transaction() as conn:
            await conn.execute("UPDATE turns SET prompt = 'held' WHERE id = ?", (turn_id,))
            stash = asyncio.create_task(store.stash_image(turn_id, IMAGE, "png"))
            for _ in range(10):
                await asyncio.sleep(0)  # let the stash run as far as it can
            await loop.run_in_executor(store._outbox._writer, lambda: None)  # after anything it handed over
            assert not stash.done()  # waiting for the lock, not failed against SQLite's
        await stash
        assert await store.outbox_size() == 1
    finally:
        await store.close()


async def test_a_sweep_never_takes_the_file_of_a_write_still_in_its_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another store on the same file (a second process, or a restart while the old one finishes) is mid-write:
    # it holds the write lock, has written the image file, and its row is not committed yet.
    path = tmp_path / "bot.db"
    first = await SqliteStore.open(path)
    turn_id = await first.create_turn(turn(1))
    assert turn_id is not None
    await first.close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    (tmp_path / "bot.db-images" / f"{turn_id}.image").write_bytes(IMAGE)
    # The sweep waits for that lock (here: fails at once, with no busy timeout) instead of taking the file.
    monkeypatch.setattr("bot.storage.sqlite_outbox.BUSY_TIMEOUT_MS", 0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await SqliteStore.open(path)
    assert images(tmp_path) == {f"{turn_id}.image": IMAGE}
    writer.execute("INSERT INTO outbox (turn_id, image, format, created_at) VALUES (?, NULL, 'png', '')", (turn_id,))
    writer.execute("COMMIT")
    writer.close()
    store = await SqliteStore.open(path)
    try:
        assert images(tmp_path) == {f"{turn_id}.image": IMAGE}
        assert await store.outbox_size() == 1
    finally:
        await store.close()


async def test_a_query_is_one_trip_to_the_shared_connection_and_a_single_write_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every trip to aiosqlite's thread waits for the event loop, busiest exactly when jobs are admitted: a
    # cursor took three (execute, fetch, close), a one-statement transaction three more (BEGIN, it, COMMIT).
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        turn_id = await store.create_turn(turn(1))
        assert turn_id is not None
        trips: list[str] = []
        real = store._conn._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            trips.append(getattr(fn, "__name__", "?"))
            return await real(fn, *args, **kwargs)

        monkeypatch.setattr(store._conn, "_execute", counted)
        got = await store.get_turn(turn_id)
        assert got is not None and got.id == turn_id
        assert len(trips) == 1
        await store.start_turn(turn_id, None, None)
        await store.set_reply_message(turn_id, 800, 950)
        await store.mark_started(turn_id)
        assert len(trips) == 1  # the writes took the outbox connection's thread, one trip each
        again = await store.get_turn(turn_id)
        assert again is not None and again.status == "running" and again.reply_message_id == 950
    finally:
        await store.close()
