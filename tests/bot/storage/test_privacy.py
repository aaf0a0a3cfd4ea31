"""Privacy queries against both stores (SQLite file, PostgreSQL): /forget, the retention purge and /history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import asyncpg
import pytest

from bot.core.models import ChainKind, Delivery, NewTurn, TurnResult, TurnStatus
from bot.core.options import ImageOptions
from bot.core.usage import Usage
from bot.storage import BotStore, PostgresStore, SqliteStore

ALICE, BOB, CAROL = 5, 6, 7
GUILD = 1
TEXT_CHANNEL = 800
NOW = datetime.now(UTC)
_ids = iter(range(10_000, 1_000_000))


def stamp(moment: datetime) -> str:
    """The stored timestamp format (bot.storage.base.now_text)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


async def sql(store: BotStore, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Test-only raw SQL: to set up what the bot can't (old timestamps, costs) and to look at the rows.

    Written with SQLite's `?` placeholders; on PostgreSQL they become $1, $2, … (no test SQL has a literal `?`).
    """
    if isinstance(store, PostgresStore):
        numbers = iter(range(1, statement.count("?") + 1))
        return list(await store._pool.fetch(re.sub(r"\?", lambda _: f"${next(numbers)}", statement), *params))
    assert isinstance(store, SqliteStore)
    async with store._conn.execute(statement, params) as cursor:
        return list(await cursor.fetchall())


async def add_turn(
    store: BotStore,
    *,
    user_id: int,
    chain_id: int,
    status: TurnStatus = "done",
    kind: ChainKind = "thread",
    owner_id: int | None = None,
    guild_id: int | None = GUILD,
    response_id: str | None = None,
    parent_turn_id: int | None = None,
    cost_micros: int = 0,
    created_at: datetime | None = None,
    prompt: str = "a cat",
    revised_prompt: str | None = "A cat, revised",
) -> int:
    """A turn taken as far as `status` through the store's own API; costs and time written with SQL."""
    interaction_id = next(_ids)
    turn_id = await store.create_turn(NewTurn(
        chain_id=chain_id, interaction_id=interaction_id, guild_id=guild_id, channel_id=chain_id, user_id=user_id,
        kind="edit" if parent_turn_id else "draw", prompt=prompt, options=ImageOptions(), had_input_image=False,
        reply_channel_id=chain_id, reply_message_id=None,
    ))
    assert turn_id is not None
    if status != "queued":
        await store.start_turn(turn_id, parent_turn_id, None)
    if status in ("delivering", "done"):
        result = TurnResult(response_id or f"resp_{interaction_id}", f"ig_{interaction_id}", revised_prompt, Usage())
        await store.save_result(turn_id, result, b"image bytes", "png")
    if status == "done":
        delivery = Delivery(chain_id, kind, TEXT_CHANNEL, chain_id, interaction_id + 1)
        await store.complete_turn(turn_id, delivery, owner_id=owner_id or user_id, guild_id=guild_id)
    elif status == "failed":
        await store.fail_turn(turn_id, "moderation_blocked", "blocked")
    elif status == "interrupted":
        await store.interrupt_turn(turn_id)
    await sql(store, "UPDATE turns SET cost_micros = ?, created_at = ? WHERE id = ?",
              (cost_micros, stamp(created_at or NOW), turn_id))
    # The ledger's row, as the engine leaves it: a delivered image is charged its cost; these failed and
    # interrupted turns never started streaming, so they are free.
    charged = cost_micros if status in ("delivering", "done") else 0
    await sql(store, "UPDATE spend SET charged_micros = ?, created_at = ? WHERE turn_id = ?",
              (charged, stamp(created_at or NOW), turn_id))
    return turn_id


async def turn_ids(store: BotStore) -> set[int]:
    return {row[0] for row in await sql(store, "SELECT id FROM turns")}


async def chain_ids(store: BotStore) -> set[int]:
    return {row[0] for row in await sql(store, "SELECT channel_id FROM threads")}



# ---------------------------------------------------------------------------------------------- /forget


async def test_forget_deletes_own_turns_and_whole_chains_of_own_threads(store: BotStore) -> None:
    # Alice's thread 100, with Bob's edit in it; Bob's thread 200, with Alice's edit in it, then Carol's.
    a1 = await add_turn(store, user_id=ALICE, chain_id=100, response_id="resp_a1")
    b1 = await add_turn(store, user_id=BOB, chain_id=100, parent_turn_id=a1, response_id="resp_b1")
    b2 = await add_turn(store, user_id=BOB, chain_id=200, response_id="resp_b2")
    a2 = await add_turn(store, user_id=ALICE, chain_id=200, parent_turn_id=b2, response_id="resp_a2")
    c1 = await add_turn(store, user_id=CAROL, chain_id=200, parent_turn_id=a2, response_id="resp_c1")
    a3 = await add_turn(store, user_id=ALICE, chain_id=300, status="failed")  # failed: no response id

    result = await store.forget_user(ALICE)

    assert await turn_ids(store) == {b2, c1}
    assert {a1, b1, a2, a3}.isdisjoint(await turn_ids(store))
    assert await chain_ids(store) == {200}  # Alice's thread went with Bob's turn in it; Bob's stayed
    assert result.turns_deleted == 4 and result.chains_deleted == 1 and result.turns_kept_in_flight == 0
    assert sorted(result.response_ids) == ["resp_a1", "resp_a2", "resp_b1"]
    # Foreign keys: Carol's turn pointed at Alice's as its parent; the link is cut, not the row.
    carol = await store.get_turn(c1)
    assert carol is not None and carol.parent_turn_id is None
    # Bob's thread keeps its head (Carol's turn): nothing of Alice is left anywhere.
    head = await store.get_head(200)
    assert head is not None and head.id == c1
    assert (await sql(store, "SELECT count(*) FROM turns WHERE user_id = ?", (ALICE,)))[0][0] == 0
    if isinstance(store, SqliteStore):  # PostgreSQL enforces foreign keys on every statement anyway
        assert await sql(store, "PRAGMA foreign_key_check") == []


async def test_forget_moves_a_head_that_was_the_members_turn_back_to_the_newest_remaining_image(
    store: BotStore,
) -> None:
    bob = await add_turn(store, user_id=BOB, chain_id=200, response_id="resp_bob")
    await add_turn(store, user_id=BOB, chain_id=200, status="failed")  # nothing to continue from
    await add_turn(store, user_id=ALICE, chain_id=200, response_id="resp_alice")  # the head of Bob's thread
    await add_turn(store, user_id=ALICE, chain_id=300, response_id="resp_alone")  # Alice's own thread

    await store.forget_user(ALICE)

    chain = await store.get_chain(200)
    assert chain is not None and chain.owner_id == BOB and chain.head_turn_id == bob
    head = await store.get_head(200)
    assert head is not None and head.response_id == "resp_bob"
    assert await store.get_chain(300) is None


async def test_forget_keeps_turns_in_flight_and_their_outbox(store: BotStore) -> None:
    done = await add_turn(store, user_id=ALICE, chain_id=100)
    delivering = await add_turn(store, user_id=ALICE, chain_id=100, status="delivering")
    running = await add_turn(store, user_id=ALICE, chain_id=300, status="running")
    queued = await add_turn(store, user_id=BOB, chain_id=100, status="queued")  # in Alice's thread

    result = await store.forget_user(ALICE)

    assert await turn_ids(store) == {delivering, running, queued}
    assert done not in await turn_ids(store)
    assert result.turns_kept_in_flight == 3 and result.turns_deleted == 1
    assert await store.outbox_size() == 1  # the paid-for image is still posted once the job finishes
    [pending] = await store.pending_deliveries()
    assert pending.turn.id == delivering


async def test_forget_in_a_channel_chain_keeps_other_members_turns(store: BotStore) -> None:
    # A channel chain (say a forum post): Alice drew first, so she is its recorded owner.
    mine = await add_turn(store, user_id=ALICE, chain_id=400, kind="channel")
    theirs = await add_turn(store, user_id=BOB, chain_id=400, kind="channel")

    result = await store.forget_user(ALICE)

    assert await turn_ids(store) == {theirs}
    assert mine not in await turn_ids(store)
    assert await chain_ids(store) == set()  # the row naming Alice as owner is gone
    assert result.chains_deleted == 1 and result.turns_deleted == 1


async def test_forget_of_a_stranger_changes_nothing(store: BotStore) -> None:
    await add_turn(store, user_id=BOB, chain_id=200)
    result = await store.forget_user(ALICE)
    assert result.turns_deleted == result.chains_deleted == 0 and result.response_ids == ()
    assert len(await turn_ids(store)) == 1 and await chain_ids(store) == {200}


async def test_forget_is_one_transaction(store: BotStore) -> None:
    await add_turn(store, user_id=ALICE, chain_id=100)
    # Make the last statement (deleting the threads row) fail: the turns deleted before it must come back.
    error: type[Exception]
    if isinstance(store, SqliteStore):
        await sql(store, "CREATE TEMP TRIGGER no_thread_delete BEFORE DELETE ON threads "
                         "BEGIN SELECT RAISE(ABORT, 'boom'); END")
        error = aiosqlite.IntegrityError
    else:
        await sql(store, "CREATE FUNCTION no_thread_delete() RETURNS trigger LANGUAGE plpgsql "
                         "AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$")
        await sql(store, "CREATE TRIGGER no_thread_delete BEFORE DELETE ON threads "
                         "FOR EACH ROW EXECUTE FUNCTION no_thread_delete()")
        error = asyncpg.RaiseError
    with pytest.raises(error, match="boom"):
        await store.forget_user(ALICE)
    assert len(await turn_ids(store)) == 1 and await chain_ids(store) == {100}


# ---------------------------------------------------------------------------------------------- retention


async def test_purge_deletes_old_finished_turns_only(store: BotStore) -> None:
    old = NOW - timedelta(days=40)
    old_done = await add_turn(store, user_id=ALICE, chain_id=100, created_at=old)
    old_failed = await add_turn(store, user_id=ALICE, chain_id=300, status="failed", created_at=old)
    old_interrupted = await add_turn(store, user_id=BOB, chain_id=300, status="interrupted", created_at=old)
    old_queued = await add_turn(store, user_id=BOB, chain_id=500, status="queued", created_at=old)
    old_running = await add_turn(store, user_id=BOB, chain_id=500, status="running", created_at=old)
    old_delivering = await add_turn(store, user_id=BOB, chain_id=500, status="delivering", created_at=old)
    recent = await add_turn(store, user_id=ALICE, chain_id=200, created_at=NOW - timedelta(days=29))
    await sql(store, "UPDATE threads SET updated_at = ?", (stamp(old),))

    purged = await store.purge_before(NOW - timedelta(days=30))

    assert purged == 3
    assert await turn_ids(store) == {old_queued, old_running, old_delivering, recent}
    assert {old_done, old_failed, old_interrupted}.isdisjoint(await turn_ids(store))
    # Chain 100 lost its only turn and was idle: gone. Chain 200 still has its recent turn: kept.
    assert await chain_ids(store) == {200}
    assert await store.outbox_size() == 1


async def test_purge_keeps_a_chain_updated_after_the_cutoff(store: BotStore) -> None:
    await add_turn(store, user_id=ALICE, chain_id=100, created_at=NOW - timedelta(days=40))
    # updated_at stays "now": the thread was active recently, even if its records are old.
    assert await store.purge_before(NOW - timedelta(days=30)) == 1
    assert await chain_ids(store) == {100}


async def test_purge_keeps_a_chain_whose_older_turns_outlive_the_head(store: BotStore) -> None:
    first = await add_turn(store, user_id=ALICE, chain_id=100, created_at=NOW - timedelta(days=10))
    await add_turn(store, user_id=ALICE, chain_id=100, created_at=NOW - timedelta(days=40))  # the head, oldest
    await sql(store, "UPDATE threads SET updated_at = ?", (stamp(NOW - timedelta(days=40)),))
    assert await store.purge_before(NOW - timedelta(days=30)) == 1
    assert await turn_ids(store) == {first} and await chain_ids(store) == {100}
    head = await store.get_head(100)
    assert head is not None and head.id == first  # the conversation continues from what is left


async def test_purge_wants_an_aware_datetime(store: BotStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.purge_before(datetime(2026, 1, 1))  # naive on purpose


# ---------------------------------------------------------------------------------------------- /history


async def test_chain_history_lists_newest_done_turns_oldest_first(store: BotStore) -> None:
    done = [await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=1_000 * i) for i in range(1, 5)]
    await add_turn(store, user_id=BOB, chain_id=100, status="failed", cost_micros=99)
    await add_turn(store, user_id=BOB, chain_id=200, cost_micros=7)  # another chain

    history = await store.chain_history(100, limit=3)

    assert [t.id for t in history.turns] == done[1:]
    assert history.total == 4 and history.total_cost_micros == 10_000
    assert history.turns[0].revised_prompt == "A cat, revised" and history.turns[0].cost_micros == 2_000
    assert (await store.chain_history(999)).turns == []
