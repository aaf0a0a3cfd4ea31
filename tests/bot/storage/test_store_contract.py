"""The storage contract: turns, the chain head, admission limits and server settings, on SQLite and PostgreSQL.

Every test here runs once per backend (the `store_factory` fixture in conftest.py); SQLite- and PostgreSQL-only
details (WAL, PRAGMA user_version, schema_migrations) live in test_sqlite.py and test_postgres.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from bot.core.budgets import BudgetLimit, Scope
from bot.core.errors import InvalidInput, OverBudget, TooManyJobs
from bot.core.guild_settings import GuildSettings
from bot.core.models import Delivery, NewTurn, TurnResult
from bot.core.options import ImageOptions
from bot.core.shards import ShardScope
from bot.core.usage import Usage
from bot.storage import BotStore
from bot.storage.identify import LocalIdentifySpacing
from bot.storage.postgres_base import PostgresBase
from tests.bot.storage.conftest import StoreFactory
from tests.bot.storage.test_privacy import sql


def new_turn(interaction_id: int, chain_id: int | None = None, *, user_id: int = 5, guild_id: int = 1) -> NewTurn:
    return NewTurn(
        chain_id=chain_id, interaction_id=interaction_id, guild_id=guild_id, channel_id=800, user_id=user_id,
        kind="draw", prompt="a cat", options=ImageOptions(quality="low"), had_input_image=False,
        reply_channel_id=800, reply_message_id=901,
    )


def budget(limit: int, scope: Scope = "member", subject: int = 5) -> BudgetLimit:
    return BudgetLimit(scope, "day", subject, limit, datetime(2000, 1, 1, tzinfo=UTC))


async def test_both_stores_are_bot_stores(store: BotStore) -> None:
    assert isinstance(store, BotStore)


async def test_turn_lifecycle_moves_head_and_survives_reopen(store_factory: StoreFactory) -> None:
    store = await store_factory()
    first = await store.create_turn(new_turn(100))
    assert first is not None
    assert (await store.get_turn(first)).status == "queued"  # type: ignore[union-attr]
    assert (await store.turn_for_interaction(100)).id == first  # type: ignore[union-attr]
    assert await store.turn_for_interaction(99) is None
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
    await store.set_reply_message(second, 900, 1234)
    assert await store.note_delivery_attempt(second, "discord said no") == 1
    assert await store.note_delivery_attempt(second, "x" * 900) == 2
    await store.fail_turn(second, "moderation_blocked", "no")
    await store.close()

    store = await store_factory()
    chain = await store.get_chain(900)
    assert chain is not None and (chain.kind, chain.owner_id, chain.parent_channel_id) == ("thread", 5, 800)
    assert chain.guild_id == 1 and chain.head_turn_id == first
    assert chain.created_at.tzinfo is not None and chain.updated_at >= chain.created_at
    assert await store.get_chain(901) is None
    head = await store.get_head(900)
    assert head is not None and head.id == first  # a failed turn never becomes the head
    assert (head.response_id, head.image_call_id, head.revised_prompt) == ("resp_1", "ig_1", "A cat, revised")
    assert head.usage == Usage(10, 20, 30, 40)
    assert (head.reply_channel_id, head.reply_message_id, head.chain_id) == (800, 901, 900)
    assert head.options == ImageOptions(quality="low") and head.status == "done"
    assert head.created_at is not None and head.finished_at is not None and head.finished_at >= head.created_at
    failed = await store.get_turn(second)
    assert failed is not None and failed.status == "failed" and failed.parent_turn_id == first
    assert (failed.error_code, failed.previous_response_id, failed.error) == ("moderation_blocked", "resp_1", "no")
    assert (failed.reply_channel_id, failed.reply_message_id, failed.delivery_attempts) == (900, 1234, 2)
    assert [t.id for t in await store.list_turns(900)] == [first, second]
    assert await store.list_turns(901) == []


async def test_both_backends_build_identical_turns(store_factory: StoreFactory) -> None:
    """The row -> model mapping: every field (incl. types: ints, not Decimals; aware datetimes) round-trips."""
    store = await store_factory()
    turn_id = await store.create_turn(new_turn(7, chain_id=900), reserve=123_456)
    assert turn_id is not None
    turn = await store.get_turn(turn_id)
    assert turn is not None
    assert (turn.chain_id, turn.interaction_id, turn.guild_id, turn.channel_id, turn.user_id, turn.kind) == (
        900, 7, 1, 800, 5, "draw")
    assert (turn.cost_reserved_micros, turn.cost_micros, turn.delivery_attempts) == (123_456, 0, 0)
    assert type(turn.cost_reserved_micros) is int and type(turn.id) is int
    assert turn.created_at is not None and turn.created_at.utcoffset() is not None and turn.finished_at is None
    big = 1_234_567_890_123_456_789  # Discord snowflakes need 64 bits
    big_id = await store.create_turn(new_turn(big, user_id=big, guild_id=big))
    assert big_id is not None
    stored = await store.get_turn(big_id)
    assert stored is not None and (stored.interaction_id, stored.user_id, stored.guild_id) == (big, big, big)


async def test_restart_interrupts_unfinished_and_keeps_undelivered_images(store: BotStore) -> None:
    queued = await store.create_turn(new_turn(1))
    running = await store.create_turn(new_turn(2))
    delivering = await store.create_turn(new_turn(3))
    assert queued and running and delivering
    await store.start_turn(running, None, None)
    await store.start_turn(delivering, None, None)
    await store.save_result(delivering, TurnResult("r", "ig", None, Usage()), b"\x89PNG...", "png")

    interrupted = await store.interrupt_unfinished()

    assert [t.id for t in interrupted] == [queued, running]
    assert [t.status for t in interrupted] == ["queued", "running"]  # as they were when the bot stopped
    assert {(await store.get_turn(i)).status for i in (queued, running)} == {"interrupted"}  # type: ignore[union-attr]
    [pending] = await store.pending_deliveries()
    assert pending.turn.id == delivering and pending.image == b"\x89PNG..." and pending.format == "png"
    assert await store.interrupt_unfinished() == []


async def test_an_image_stashed_on_arrival_is_the_one_delivered(store: BotStore) -> None:
    early = await store.create_turn(new_turn(1))
    late = await store.create_turn(new_turn(2))
    assert early and late
    for turn_id in (early, late):
        await store.start_turn(turn_id, None, None)
    await store.stash_image(early, b"arrived first", "webp")
    assert await store.pending_deliveries() == []  # not delivering yet: its response has not completed
    await store.stash_image(early, b"arrived first", "webp")  # harmless twice
    await store.save_result(early, TurnResult("r1", "ig1", None, Usage()), None, "webp")
    # Stashed and given again with the result (a retried stash): the image goes in once.
    await store.stash_image(late, b"late image", "png")
    await store.save_result(late, TurnResult("r2", "ig2", None, Usage()), b"late image", "png")

    pending = {p.turn.id: (p.image, p.format, p.turn.status) for p in await store.pending_deliveries()}
    assert pending == {early: (b"arrived first", "webp", "delivering"), late: (b"late image", "png", "delivering")}
    assert await store.outbox_size() == 2


async def test_recovery_in_a_shard_scope_leaves_other_processes_jobs_alone(store_factory: StoreFactory) -> None:
    # Two processes share the database: one runs shard 0 of 2, the other shard 1 (and DMs arrive on shard 0).
    mine, theirs = 0 << 22, 1 << 22  # (guild_id >> 22) % 2 is 0 and 1
    first, second = await store_factory(), await store_factory()
    running_mine = await second.create_turn(new_turn(1, guild_id=mine))
    running_theirs = await second.create_turn(new_turn(2, guild_id=theirs))
    running_dm = await second.create_turn(dataclasses.replace(new_turn(3), guild_id=None))
    delivering_mine = await second.create_turn(new_turn(4, guild_id=mine))
    delivering_theirs = await second.create_turn(new_turn(5, guild_id=theirs))
    assert running_mine and running_theirs and running_dm and delivering_mine and delivering_theirs
    for turn_id in (running_mine, running_theirs, running_dm, delivering_mine, delivering_theirs):
        await second.start_turn(turn_id, None, None)
    for turn_id in (delivering_mine, delivering_theirs):
        await second.save_result(turn_id, TurnResult("r", "ig", None, Usage()), b"img%d" % turn_id, "png")

    scope = ShardScope.of(2, [0])
    interrupted = await first.interrupt_unfinished(scope)

    assert [t.id for t in interrupted] == [running_mine, running_dm]
    assert (await first.get_turn(running_theirs)).status == "running"  # type: ignore[union-attr]
    assert [(p.turn.id, p.image) for p in await first.pending_deliveries(scope)] == [
        (delivering_mine, b"img%d" % delivering_mine)]
    assert [p.turn.id for p in await first.pending_deliveries(ShardScope.of(2, [1]))] == [delivering_theirs]
    # The other process finishes its job normally: its statements still find the turn running.
    await second.save_result(running_theirs, TurnResult("r2", "ig2", None, Usage()), b"late", "png")
    assert (await first.get_turn(running_theirs)).status == "delivering"  # type: ignore[union-attr]
    assert [t.id for t in await first.interrupt_unfinished(ShardScope.of(2, [1]))] == []


async def test_interrupt_turn_only_touches_unfinished_turns(store: BotStore) -> None:
    queued = await store.create_turn(new_turn(1), reserve=5)
    failed = await store.create_turn(new_turn(2))
    assert queued and failed
    await store.fail_turn(failed, "x", "y")
    await store.interrupt_turn(queued)
    await store.interrupt_turn(failed)
    interrupted = await store.get_turn(queued)
    assert interrupted is not None and interrupted.status == "interrupted" and interrupted.cost_reserved_micros == 0
    assert (await store.get_turn(failed)).status == "failed"  # type: ignore[union-attr]


async def test_interaction_ids_are_unique(store: BotStore) -> None:
    assert await store.create_turn(new_turn(1)) is not None
    assert await store.create_turn(new_turn(1)) is None  # a duplicate delivery of one interaction
    assert await store.create_turn(new_turn(2)) is not None  # the failed transaction left the store usable


async def test_concurrent_writes_do_not_interleave(store: BotStore) -> None:
    ids = await asyncio.gather(*(store.create_turn(new_turn(i)) for i in range(50)))
    assert len(set(ids)) == 50 and None not in ids


async def test_budget_holds_exactly_when_many_jobs_start_at_once(store: BotStore) -> None:
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


async def test_budget_is_exact_across_two_stores_sharing_one_database(store_factory: StoreFactory) -> None:
    """Two bot processes (two stores, each with its own connections) admit jobs against one server budget at
    once: the check and the insert must be atomic across them, not just within one process."""
    first, second = await store_factory(), await store_factory()
    guild_budget = [budget(1_000_000, "server", 1)]  # exactly three $0.30 jobs fit, whoever asks

    async def attempt(store: BotStore, i: int) -> int | None:
        member_budget = budget(10_000_000, "member", 100 + i % 7)
        try:
            return await store.create_turn(
                new_turn(5000 + i, user_id=100 + i % 7), reserve=300_000, limits=[member_budget, *guild_budget]
            )
        except OverBudget:
            return None

    for round_ in range(3):  # several rounds: a lost race would show up as a fourth admission
        base = round_ * 100
        results = await asyncio.gather(*(attempt(first if i % 2 else second, base + i) for i in range(24)))
        admitted = [t for t in results if t is not None]
        assert len(admitted) == 3, f"round {round_}: {len(admitted)} jobs admitted for a budget of three"
        for turn_id in admitted:  # free the budget for the next round
            await first.fail_turn(turn_id, "x", "y")


async def test_jobs_in_flight_are_exact_across_two_stores(store_factory: StoreFactory) -> None:
    first, second = await store_factory(), await store_factory()

    async def attempt(i: int) -> int | None:
        try:
            return await (first if i % 2 else second).create_turn(new_turn(i), max_in_flight=2)
        except TooManyJobs:
            return None

    admitted = [t for t in await asyncio.gather(*(attempt(i) for i in range(16))) if t is not None]
    assert len(admitted) == 2


async def test_jobs_in_flight_per_member_are_limited(store: BotStore) -> None:
    first = await store.create_turn(new_turn(1), max_in_flight=2)
    await store.create_turn(new_turn(2), max_in_flight=2)
    with pytest.raises(TooManyJobs, match="2 images in progress"):
        await store.create_turn(new_turn(3), max_in_flight=2)
    assert await store.create_turn(new_turn(30, user_id=6), max_in_flight=2) is not None  # another member
    assert first is not None
    await store.fail_turn(first, "x", "y")
    assert await store.create_turn(new_turn(4), max_in_flight=2) is not None


async def test_budget_counts_since_the_period_start_only(store: BotStore) -> None:
    old = await store.create_turn(new_turn(1), reserve=900_000)
    assert old is not None
    await sql(store, "UPDATE spend SET created_at = ? WHERE turn_id = ?", ("2025-12-31T23:59:59.999+00:00", old))
    today = [BudgetLimit("member", "day", 5, 1_000_000, datetime(2026, 1, 1, tzinfo=UTC))]
    assert await store.create_turn(new_turn(2), reserve=1_000_000, limits=today) is not None
    with pytest.raises(OverBudget, match="daily"):
        await store.create_turn(new_turn(3), reserve=1, limits=today)


# ---------------------------------------------------------------------------------------------- server settings


async def test_guild_settings_default_set_and_update(store_factory: StoreFactory) -> None:
    store = await store_factory()
    assert await store.get_guild_settings(1) == GuildSettings()
    await store.set_guild_settings(1, GuildSettings(default_quality="high", allowed_channel_ids=frozenset({9})), 42)
    updated = await store.update_guild_settings(1, lambda s: dataclasses.replace(s, partial_images=2), 43)
    assert updated == GuildSettings(default_quality="high", allowed_channel_ids=frozenset({9}), partial_images=2)
    assert await store.get_guild_settings(2) == GuildSettings()  # per server
    await store.close()
    reopened = await store_factory()
    assert await reopened.get_guild_settings(1) == updated


async def test_community_settings_survive_a_reopen(store_factory: StoreFactory) -> None:
    """Blocked words, spoilers, role budgets and the log channel live in the same row on both backends."""
    store = await store_factory()
    community = GuildSettings(
        blocked_words=("kitten*", "red fox"), spoiler_channel_ids=frozenset({5}), spoiler_age_restricted=True,
        role_budgets=((7, 2_000_000, None), (8, None, 30_000_000)), log_channel_id=77,
    )
    await store.set_guild_settings(1, community, 42)
    await store.close()
    reopened = await store_factory()
    assert await reopened.get_guild_settings(1) == community


async def test_a_failed_guild_settings_change_writes_nothing(store: BotStore) -> None:
    await store.set_guild_settings(1, GuildSettings(default_quality="low"), 42)

    def invalid(_: GuildSettings) -> GuildSettings:
        raise InvalidInput("no such size")

    with pytest.raises(InvalidInput):
        await store.update_guild_settings(1, invalid, 43)
    assert await store.get_guild_settings(1) == GuildSettings(default_quality="low")


async def test_unreadable_guild_settings_fall_back_to_defaults(store: BotStore) -> None:
    await store.set_guild_settings(1, GuildSettings(default_quality="low"), 42)
    await sql(store, "UPDATE guild_settings SET settings = ? WHERE guild_id = ?", ("{not json", 1))
    assert await store.get_guild_settings(1) == GuildSettings()


async def test_concurrent_guild_settings_updates_are_not_lost(store_factory: StoreFactory) -> None:
    first, second = await store_factory(), await store_factory()
    channels = range(1, 21)

    async def add_channel(store: BotStore, channel: int) -> None:
        await store.update_guild_settings(
            1, lambda s: dataclasses.replace(s, allowed_channel_ids=s.allowed_channel_ids | {channel}), channel
        )

    await asyncio.gather(*(add_channel(first if c % 2 else second, c) for c in channels))
    assert (await first.get_guild_settings(1)).allowed_channel_ids == frozenset(channels)


class HeldWaits:
    """A sleep that records what it was asked for and returns only when the test lets go (zero returns at once)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.go = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)
        if seconds > 0:
            await self.go.wait()


def hold_identify_waits(store: BotStore, waits: HeldWaits) -> None:
    assert isinstance(store, LocalIdentifySpacing | PostgresBase)
    store.identify_sleep = waits.sleep
    if isinstance(store, LocalIdentifySpacing):
        store.identify_clock = lambda: 1000.0  # time stands still: only the held waits move it on


async def test_identify_turns_are_spaced_across_stores_sharing_the_database(store_factory: StoreFactory) -> None:
    first, second = await store_factory(), await store_factory()
    # SQLite is one process's file: its spacing holds within one store; PostgreSQL's holds across stores.
    other = second if store_factory.backend == "postgres" else first
    waits = HeldWaits()
    for store in (first, second):
        hold_identify_waits(store, waits)
    await first.wait_to_identify(0, 0.4)  # the bucket's first turn goes at once
    queued = asyncio.create_task(other.wait_to_identify(0, 0.4))
    await other.wait_to_identify(1, 0.4)  # another bucket does not wait for bucket 0
    await other.wait_to_identify(2, 0.4)
    assert not queued.done()  # bucket 0's next turn waits until the first turn's 0.4 s are over
    assert {round(w, 6) for w in waits.asked if w > 0} == {0.4}  # held for exactly the spacing
    waits.go.set()
    await asyncio.wait_for(queued, 10)


async def test_abandoned_delivery_fails_the_turn_and_keeps_the_image_only_when_asked(store: BotStore) -> None:
    handed, kept = await store.create_turn(new_turn(300)), await store.create_turn(new_turn(301))
    assert handed is not None and kept is not None
    for turn_id in (handed, kept):
        await store.start_turn(turn_id, None, None)
        await store.save_result(turn_id, TurnResult(f"resp_{turn_id}", "ig", None, Usage()), b"img", "png")
    await store.abandon_delivery(handed, "gave up after 3 attempts", keep_image=False)  # the member got it by DM
    await store.abandon_delivery(kept, "gave up after 3 attempts", keep_image=True)
    for turn_id in (handed, kept):
        turn = await store.get_turn(turn_id)
        assert turn is not None and (turn.status, turn.error_code) == ("failed", "delivery")
    assert await store.outbox_size() == 1
    assert await store.pending_deliveries() == []  # a failed turn is never retried at the next start
# ---------------------------------------------------------------------------------------------- the spend ledger


async def test_bot_wide_cap_is_exact_across_two_stores_and_many_servers(store_factory: StoreFactory) -> None:
    """Two processes admit jobs of different members in different servers against the one bot-wide cap."""
    first, second = await store_factory(), await store_factory()
    bot_cap = [budget(1_000_000, "bot", 0)]  # three $0.30 jobs fit in all

    async def attempt(store: BotStore, i: int) -> int | None:
        try:
            return await store.create_turn(
                new_turn(7000 + i, user_id=200 + i, guild_id=300 + i), reserve=300_000, limits=bot_cap
            )
        except OverBudget as refused:
            assert "whole bot" in str(refused.user_message)
            return None

    results = await asyncio.gather(*(attempt(first if i % 2 else second, i) for i in range(24)))
    assert len([t for t in results if t is not None]) == 3


async def test_forget_and_retention_never_reduce_the_ledger(store: BotStore) -> None:
    turn = await store.create_turn(new_turn(1, user_id=5), reserve=50_000)
    assert turn is not None
    await store.start_turn(turn, None, None)
    await store.save_result(turn, TurnResult("r", "ig", None, Usage(), cost_micros=42_000), b"png", "png")
    await store.complete_turn(turn, Delivery(800, "channel", None, 800, 902), owner_id=5, guild_id=1)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert await store.spend(since=since, user_id=5) == 42_000

    await store.forget_user(5)
    await store.purge_before(datetime(2100, 1, 1, tzinfo=UTC))
    assert await store.get_turn(turn) is None
    assert await store.spend(since=since, user_id=5) == 42_000
    assert await store.spend(since=since, guild_id=1) == 42_000
    with pytest.raises(OverBudget):  # the budget still sees it
        await store.create_turn(new_turn(2, user_id=5), reserve=10_000, limits=[budget(50_000)])
    # Amounts and ids only: nothing of the prompt is kept in the ledger.
    rows = await sql(store, "SELECT * FROM spend")
    assert len(rows) == 1 and "a cat" not in repr(tuple(rows[0]))


async def test_a_crash_charges_jobs_openai_had_started_and_frees_the_rest(store: BotStore) -> None:
    queued = await store.create_turn(new_turn(1), reserve=30_000)
    started = await store.create_turn(new_turn(2), reserve=40_000)
    assert queued and started
    await store.start_turn(started, None, None)
    await store.mark_started(started)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert await store.spend(since=since) == 0  # held, not spent yet
    await store.interrupt_unfinished()
    assert await store.spend(since=since) == 40_000  # the estimate held for it: nobody knows how far it got
    assert await store.create_turn(new_turn(3), reserve=60_000, limits=[budget(100_000)]) is not None


async def test_fail_and_interrupt_charge_what_was_made(store: BotStore) -> None:
    failed = await store.create_turn(new_turn(1), reserve=30_000)
    stopped = await store.create_turn(new_turn(2), reserve=30_000)
    blocked = await store.create_turn(new_turn(3), reserve=30_000)
    assert failed and stopped and blocked
    await store.fail_turn(failed, "server_error", "x", charge=12_000)
    await store.interrupt_turn(stopped, charge=7_000)
    await store.fail_turn(blocked, "moderation_blocked", "x")
    assert (await store.get_turn(failed)).cost_micros == 12_000  # type: ignore[union-attr]
    assert await store.spend(since=datetime(2000, 1, 1, tzinfo=UTC)) == 19_000


async def test_variations_are_admitted_together_and_keep_their_image_until_chosen(store: BotStore) -> None:
    group = 700
    turns = [dataclasses.replace(new_turn(group if i == 1 else None, chain_id=None),  # type: ignore[arg-type]
                                 variation_group=group, variation_index=i) for i in (1, 2, 3)]
    with pytest.raises(OverBudget, match=r"these 3 images together may cost up to \$0\.30"):
        await store.create_turns(turns, reserve=100_000, limits=[budget(250_000)])
    assert await store.variation_turns(group) == []  # all or none
    # The member's limit on jobs in flight counts the request once.
    ids = await store.create_turns(turns, reserve=100_000, max_in_flight=1, limits=[budget(300_000)])
    assert ids is not None and len(ids) == 3
    assert await store.create_turns(turns, reserve=1) is None  # a repeat delivery of the same command
    stored = await store.variation_turns(group)
    assert [(t.id, t.variation_group, t.variation_index) for t in stored] == [(ids[i], group, i + 1) for i in range(3)]

    for turn_id in ids[:2]:
        await store.start_turn(turn_id, None, None)
        await store.save_result(turn_id, TurnResult(f"resp_{turn_id}", "ig", None, Usage()), b"img%d" % turn_id, "png")
        await store.complete_turn(turn_id, Delivery(900, "thread", 800, 800, 901, moves_head=False), owner_id=5,
                                  guild_id=1)
    assert await store.get_head(900) is None  # landed in the grid, not chosen
    assert await store.kept_image(ids[0]) == (b"img%d" % ids[0], "png")
    await store.choose_variation(ids[1], 900, 900, 1234)
    head = await store.get_head(900)
    assert head is not None and head.id == ids[1] and head.reply_message_id == 1234
    assert await store.kept_image(ids[1]) is None and await store.kept_image(ids[0]) is not None
    assert await store.pending_deliveries() == []  # a kept variation is not an undelivered image
