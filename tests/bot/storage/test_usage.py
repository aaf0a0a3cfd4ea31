"""Spend queries against both stores (SQLite file, PostgreSQL): the ledger's charges (delivered images here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.storage import BotStore
from tests.bot.storage.test_privacy import ALICE, BOB, CAROL, GUILD, add_turn

OTHER_GUILD = 2
DAY = datetime(2026, 5, 17, tzinfo=UTC)


async def test_spend_counts_done_turns_since_the_start(store: BotStore) -> None:
    await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=40_000, created_at=DAY)  # exactly at the start
    await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=2_000, created_at=DAY + timedelta(hours=5))
    await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=300, created_at=DAY - timedelta(seconds=1))
    # Not charged: failed, interrupted, and still running (only a reservation).
    await add_turn(store, user_id=ALICE, chain_id=100, status="failed", cost_micros=9_000_000, created_at=DAY)
    await add_turn(store, user_id=ALICE, chain_id=100, status="interrupted", cost_micros=9_000_000, created_at=DAY)
    await add_turn(store, user_id=ALICE, chain_id=100, status="running", cost_micros=9_000_000, created_at=DAY)
    await add_turn(store, user_id=BOB, chain_id=200, cost_micros=500_000, created_at=DAY)

    assert await store.spend(since=DAY, user_id=ALICE) == 42_000
    assert await store.spend(since=DAY - timedelta(days=1), user_id=ALICE) == 42_300
    assert await store.spend(since=DAY, guild_id=GUILD) == 542_000
    assert await store.spend(since=DAY) == 542_000
    assert await store.spend(since=DAY, user_id=CAROL) == 0


async def test_spend_filters_by_member_and_server_together(store: BotStore) -> None:
    await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=1_000, created_at=DAY)
    await add_turn(store, user_id=ALICE, chain_id=300, guild_id=OTHER_GUILD, cost_micros=20_000, created_at=DAY)
    await add_turn(store, user_id=ALICE, chain_id=400, guild_id=None, cost_micros=300_000, created_at=DAY)  # a DM

    assert await store.spend(since=DAY, user_id=ALICE, guild_id=GUILD) == 1_000
    assert await store.spend(since=DAY, user_id=ALICE, guild_id=OTHER_GUILD) == 20_000
    assert await store.spend(since=DAY, user_id=ALICE) == 321_000


async def test_spend_compares_times_in_utc(store: BotStore) -> None:
    await add_turn(store, user_id=ALICE, chain_id=100, cost_micros=1_000, created_at=DAY + timedelta(hours=1))
    # 02:00 at UTC+2 is midnight UTC: the same instant as DAY, written in another zone.
    local = DAY.astimezone(timezone(timedelta(hours=2)))
    assert await store.spend(since=local, user_id=ALICE) == 1_000
    assert await store.spend(since=local + timedelta(hours=2), user_id=ALICE) == 0


async def test_top_spenders_of_a_server_biggest_first(store: BotStore) -> None:
    costs = {ALICE: [3_000, 4_000], BOB: [10_000], CAROL: [7_000], 8: [7_000], 9: [1], 10: [2], 11: [0]}
    for user, amounts in costs.items():
        for amount in amounts:
            await add_turn(store, user_id=user, chain_id=100, cost_micros=amount, created_at=DAY)
    await add_turn(store, user_id=12, chain_id=100, cost_micros=99_000, created_at=DAY - timedelta(days=1))
    await add_turn(store, user_id=13, chain_id=300, guild_id=OTHER_GUILD, cost_micros=99_000, created_at=DAY)
    await add_turn(store, user_id=14, chain_id=100, status="failed", cost_micros=99_000, created_at=DAY)

    top = await store.top_spenders(GUILD, DAY)

    # Ties (7_000) by user id, so the order is stable; nobody with nothing spent is listed.
    assert top == [(BOB, 10_000), (ALICE, 7_000), (CAROL, 7_000), (8, 7_000), (10, 2)]
    assert await store.top_spenders(GUILD, DAY, limit=2) == [(BOB, 10_000), (ALICE, 7_000)]
    assert await store.top_spenders(GUILD, DAY + timedelta(days=1)) == []
