"""The SQLite store: migrations, WAL, turns and the chain head, against a real file."""

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from bot.core.budgets import BudgetLimit
from bot.core.models import Delivery, NewTurn, TurnResult, Usage
from bot.core.options import ImageOptions
from bot.storage import SqliteStore, open_store
from bot.storage.migrate import Migration, current_version, load_migrations, migrate


def new_turn(interaction_id: int, chain_id: int | None = None) -> NewTurn:
    return NewTurn(
        chain_id=chain_id, interaction_id=interaction_id, guild_id=1, channel_id=800, user_id=5, kind="draw",
        prompt="a cat", options=ImageOptions(quality="low"), had_input_image=False, reply_channel_id=800,
        reply_message_id=901,
    )


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


async def test_turn_lifecycle_moves_head_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    first = await store.create_turn(new_turn(100))
    assert first is not None
    assert (await store.get_turn(first)).status == "queued"  # type: ignore[union-attr]
    await store.start_turn(first, None, None)
    assert (await store.get_turn(first)).status == "running"  # type: ignore[union-attr]
    assert await store.get_head(900) is None
    await store.save_result(first, TurnResult("resp_1", "ig_1", "A cat, revised", Usage(10, 20, 30, 40)), b"img", "png")
    assert (await store.get_turn(first)).status == "delivering"  # type: ignore[union-attr]
    assert await store.outbox_size() == 1
    assert await store.get_head(900) is None  # the head moves only once the image is posted
    await store.complete_turn(first, Delivery(900, "thread", 800, 800, 901), owner_id=5, guild_id=1)
    assert await store.outbox_size() == 0
    second = await store.create_turn(new_turn(101, chain_id=900))
    assert second is not None
    await store.start_turn(second, first, "resp_1")
    await store.fail_turn(second, "moderation_blocked", "no")
    await store.close()

    store = await SqliteStore.open(path)
    chain = await store.get_chain(900)
    assert chain is not None and (chain.kind, chain.owner_id, chain.parent_channel_id) == ("thread", 5, 800)
    head = await store.get_head(900)
    assert head is not None and head.id == first  # a failed turn never becomes the head
    assert (head.response_id, head.image_call_id, head.revised_prompt) == ("resp_1", "ig_1", "A cat, revised")
    assert head.usage == Usage(10, 20, 30, 40)
    assert (head.reply_channel_id, head.reply_message_id, head.chain_id) == (800, 901, 900)
    assert head.options == ImageOptions(quality="low") and head.status == "done"
    failed = await store.get_turn(second)
    assert failed is not None and failed.status == "failed" and failed.parent_turn_id == first
    assert (failed.error_code, failed.previous_response_id) == ("moderation_blocked", "resp_1")
    assert [t.id for t in await store.list_turns(900)] == [first, second]
    await store.close()


async def test_restart_interrupts_unfinished_and_keeps_undelivered_images(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    queued = await store.create_turn(new_turn(1))
    running = await store.create_turn(new_turn(2))
    delivering = await store.create_turn(new_turn(3))
    assert queued and running and delivering
    await store.start_turn(running, None, None)
    await store.start_turn(delivering, None, None)
    await store.save_result(delivering, TurnResult("r", "ig", None, Usage()), b"\x89PNG...", "png")

    interrupted = await store.interrupt_unfinished()

    assert [t.id for t in interrupted] == [queued, running]
    assert {(await store.get_turn(i)).status for i in (queued, running)} == {"interrupted"}  # type: ignore[union-attr]
    [pending] = await store.pending_deliveries()
    assert pending.turn.id == delivering and pending.image == b"\x89PNG..." and pending.format == "png"
    assert await store.interrupt_unfinished() == []
    await store.close()


async def test_interaction_ids_are_unique(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    assert await store.create_turn(new_turn(1)) is not None
    assert await store.create_turn(new_turn(1)) is None  # a duplicate delivery of one interaction
    assert await store.create_turn(new_turn(2)) is not None  # the failed transaction left the connection usable
    await store.close()


async def test_concurrent_writes_do_not_interleave(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    ids = await asyncio.gather(*(store.create_turn(new_turn(i)) for i in range(50)))
    assert len(set(ids)) == 50
    await store.close()


def budget(limit: int, scope: str = "member", subject: int = 5) -> BudgetLimit:
    from datetime import UTC, datetime

    return BudgetLimit(scope, "day", subject, limit, datetime(2000, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


async def test_budget_holds_exactly_when_many_jobs_start_at_once(tmp_path: Path) -> None:
    from bot.core.errors import OverBudget

    store = await SqliteStore.open(tmp_path / "bot.db")
    limits = [budget(1_000_000)]  # $1.00; each job reserves $0.30, so exactly three fit

    async def attempt(i: int) -> int | None:
        try:
            return await store.create_turn(new_turn(1000 + i), reserve=300_000, limits=limits)
        except OverBudget:
            return None

    admitted = [t for t in await asyncio.gather(*(attempt(i) for i in range(20))) if t is not None]
    assert len(admitted) == 3
    # Failing one releases its reservation; finishing one charges the real (lower) cost.
    await store.fail_turn(admitted[0], "moderation_blocked", "blocked")
    await store.save_result(admitted[1], TurnResult("r", "ig", None, Usage(), cost_micros=50_000), b"x", "png")
    assert await store.create_turn(new_turn(2000), reserve=300_000, limits=limits) is not None
    assert await store.create_turn(new_turn(2001), reserve=300_000, limits=limits) is not None  # 0.05+0.3*3
    with pytest.raises(OverBudget):
        await store.create_turn(new_turn(2002), reserve=300_000, limits=limits)
    await store.close()


async def test_jobs_in_flight_per_member_are_limited(tmp_path: Path) -> None:
    from bot.core.errors import TooManyJobs

    store = await SqliteStore.open(tmp_path / "bot.db")
    first = await store.create_turn(new_turn(1), max_in_flight=2)
    await store.create_turn(new_turn(2), max_in_flight=2)
    with pytest.raises(TooManyJobs, match="2 images in progress"):
        await store.create_turn(new_turn(3), max_in_flight=2)
    assert first is not None
    await store.fail_turn(first, "x", "y")
    assert await store.create_turn(new_turn(4), max_in_flight=2) is not None
    await store.close()
