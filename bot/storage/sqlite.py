"""The aiosqlite Store: one shared connection (one worker thread), WAL, explicit transactions.

The transactions that carry finished images use a connection of their own (bot.storage.sqlite_outbox).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC

import aiosqlite

from bot.core.budgets import BudgetLimit
from bot.core.errors import OverBudget, too_many_jobs
from bot.core.models import ChainRecord, Delivery, NewTurn, PendingDelivery, Turn, TurnResult
from bot.core.shards import ShardScope
from bot.storage.base import SqliteBase, now_text
from bot.storage.guild_settings import GuildSettingsQueries
from bot.storage.identify import LocalIdentifySpacing
from bot.storage.privacy import PrivacyQueries
from bot.storage.rows import SELECT_TURNS, UNFINISHED, chain_from_row, turn_from_row
from bot.storage.sqlite_outbox import Statement
from bot.storage.usage import UsageQueries

log = logging.getLogger(__name__)

# Money used in a period, from the spend ledger (which /forget and retention never touch): what finished jobs
# cost plus the estimates held for unfinished ones. The bot's own cap counts every row the owner's key paid.
_SPENT_SUM = "SELECT COALESCE(SUM(held_micros + charged_micros), 0) FROM spend "
_SPENT = {
    "member": _SPENT_SUM + "WHERE user_id = ? AND created_at >= ?",
    "server": _SPENT_SUM + "WHERE guild_id = ? AND created_at >= ?",
    "bot": _SPENT_SUM + "WHERE paid_by = 'owner' AND created_at >= ?",  # servers' own keys aren't the owner's
}

# A job's end in the ledger: the held estimate goes, the charge stays (never lowered: a delivered image that
# later fails to post is still paid for).
_CHARGE = "UPDATE spend SET held_micros = 0, charged_micros = MAX(charged_micros, ?) WHERE turn_id = ?"
# After a crash nobody knows how far a started job got: it is charged the estimate held for it (documented in
# README "Budgets"); one OpenAI never started on is free.
_CHARGE_CRASHED = (
    "UPDATE spend SET charged_micros = MAX(charged_micros, CASE WHEN started = 1 THEN held_micros ELSE 0 END), "
    "held_micros = 0 WHERE turn_id = ?"
)


_COST_FROM_LEDGER = (
    "UPDATE turns SET cost_micros = (SELECT charged_micros FROM spend WHERE spend.turn_id = turns.id) "
    "WHERE id = ? AND EXISTS (SELECT 1 FROM spend WHERE spend.turn_id = turns.id)"
)


class SqliteStore(GuildSettingsQueries, PrivacyQueries, UsageQueries, LocalIdentifySpacing, SqliteBase):
    """Implements bot.core.ports.Store; all SQL of the project lives in bot/storage/."""

    async def get_chain(self, channel_id: int) -> ChainRecord | None:
        row = await self._one("SELECT * FROM threads WHERE channel_id = ?", (channel_id,))
        return chain_from_row(row) if row else None

    async def get_head(self, channel_id: int) -> Turn | None:
        row = await self._one(
            SELECT_TURNS + " WHERE id = (SELECT head_turn_id FROM threads WHERE channel_id = ?)",  # noqa: S608
            (channel_id,),
        )
        return turn_from_row(row) if row else None

    async def get_turn(self, turn_id: int) -> Turn | None:
        row = await self._one(SELECT_TURNS + " WHERE id = ?", (turn_id,))
        return turn_from_row(row) if row else None

    async def turn_for_interaction(self, interaction_id: int) -> Turn | None:
        row = await self._one(SELECT_TURNS + " WHERE interaction_id = ?", (interaction_id,))
        return turn_from_row(row) if row else None

    async def list_turns(self, chain_id: int) -> list[Turn]:
        async with self._conn.execute(
            SELECT_TURNS + " WHERE chain_id = ? ORDER BY id", (chain_id,)
        ) as cursor:
            return [turn_from_row(row) for row in await cursor.fetchall()]

    async def create_turn(
        self,
        turn: NewTurn,
        *,
        reserve: int = 0,
        max_in_flight: int | None = None,
        limits: Sequence[BudgetLimit] = (),
    ) -> int | None:
        """Admit a job: check the member's jobs in flight and every budget, then insert it queued, atomically.

        Returns None when this interaction already has a job (Discord delivered it twice). Raises TooManyJobs
        or OverBudget. Checking and inserting in one IMMEDIATE transaction keeps limits exact under load.
        """
        created = await self.create_turns([turn], reserve=reserve, max_in_flight=max_in_flight, limits=limits)
        return created[0] if created else None

    async def create_turns(
        self,
        turns: Sequence[NewTurn],
        *,
        reserve: int = 0,
        max_in_flight: int | None = None,
        limits: Sequence[BudgetLimit] = (),
    ) -> list[int] | None:
        """Admit the jobs of one command together (variations): all or none, each holding `reserve`, the budgets
        checked against their total and the member's jobs in flight counting them as one request."""
        total = reserve * len(turns)
        ids: list[int] = []
        try:
            async with self._transaction() as conn:
                user_id = turns[0].user_id
                if max_in_flight is not None:
                    in_flight = await self._scalar(
                        "SELECT count(*) FROM turns WHERE user_id = ? AND status IN ('queued', 'running')",
                        (user_id,),
                    )
                    if in_flight >= max_in_flight:
                        raise too_many_jobs(in_flight, max_in_flight)
                for limit in limits:
                    spent = await self._spent(limit)
                    if spent + total > limit.limit:
                        raise OverBudget(limit.refusal(spent, total, images=len(turns)))
                created = now_text()
                for turn in turns:
                    cursor = await conn.execute(
                        "INSERT INTO turns (chain_id, interaction_id, guild_id, channel_id, user_id, kind, prompt, "
                        "options, had_input_image, reply_channel_id, reply_message_id, status, "
                        "cost_reserved_micros, created_at, variation_group, variation_index) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                        (
                            turn.chain_id, turn.interaction_id, turn.guild_id, turn.channel_id, turn.user_id,
                            turn.kind, turn.prompt, turn.options.to_json(), int(turn.had_input_image),
                            turn.reply_channel_id, turn.reply_message_id, reserve, created,
                            turn.variation_group, turn.variation_index,
                        ),
                    )
                    turn_id = cursor.lastrowid
                    assert turn_id is not None
                    ids.append(turn_id)
                    await conn.execute(
                        "INSERT INTO spend (turn_id, user_id, guild_id, held_micros, created_at, paid_by) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (turn_id, turn.user_id, turn.guild_id, reserve, created, turn.paid_by),
                    )
        except aiosqlite.IntegrityError:
            return None  # this interaction already has a job: Discord delivered it twice
        return ids

    async def _spent(self, limit: BudgetLimit) -> int:
        since = limit.since.astimezone(UTC).isoformat(timespec="milliseconds")
        params = (since,) if limit.scope == "bot" else (limit.subject_id, since)
        return await self._scalar(_SPENT[limit.scope], params)

    async def _scalar(self, sql: str, params: tuple[object, ...]) -> int:
        row = await self._one(sql, params)
        return int(row[0]) if row else 0

    async def start_turn(self, turn_id: int, parent_turn_id: int | None, previous_response_id: str | None) -> None:
        await self._write_all([(
            "UPDATE turns SET status = 'running', parent_turn_id = ?, previous_response_id = ? WHERE id = ?",
            (parent_turn_id, previous_response_id, turn_id),
        )])

    async def set_reply_message(self, turn_id: int, channel_id: int, message_id: int) -> None:
        await self._write_all([(
            "UPDATE turns SET reply_channel_id = ?, reply_message_id = ? WHERE id = ?",
            (channel_id, message_id, turn_id),
        )])

    async def stash_image(self, turn_id: int, image: bytes, fmt: str) -> None:
        await self._write_all([], stash=(turn_id, image, fmt))

    async def save_result(self, turn_id: int, result: TurnResult, image: bytes | None, fmt: str) -> None:
        usage = result.usage  # the real cost replaces the reservation from here on
        await self._write_all([
            ("UPDATE turns SET status = 'delivering', response_id = ?, image_call_id = ?, revised_prompt = ?, "
             "input_tokens = ?, output_tokens = ?, image_input_tokens = ?, image_output_tokens = ?, "
             "cost_micros = ?, cost_reserved_micros = 0 WHERE id = ?",
             (result.response_id, result.image_call_id, result.revised_prompt, usage.input_tokens,
              usage.output_tokens, usage.image_input_tokens, usage.image_output_tokens, result.cost_micros,
              turn_id)),
            (_CHARGE, (result.cost_micros, turn_id)),
        ], stash=None if image is None else (turn_id, image, fmt))

    async def complete_turn(self, turn_id: int, delivery: Delivery, *, owner_id: int, guild_id: int | None) -> None:
        now = now_text()
        head = turn_id if delivery.moves_head else None
        statements: list[Statement] = [
            ("INSERT INTO threads (channel_id, guild_id, parent_channel_id, owner_id, kind, head_turn_id, "
             "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (channel_id) DO UPDATE SET head_turn_id = COALESCE(?, head_turn_id), "
             "updated_at = excluded.updated_at",
             (delivery.chain_id, guild_id, delivery.parent_channel_id, owner_id, delivery.chain_kind,
              head, now, now, head)),
            ("UPDATE turns SET chain_id = ?, status = 'done', reply_channel_id = ?, reply_message_id = ?, "
             "finished_at = ? WHERE id = ?",
             (delivery.chain_id, delivery.message_channel_id, delivery.message_id, now, turn_id)),
        ]
        # A variation keeps its image until "Use" posts it full size.
        await self._write_all(statements, drop=[turn_id] if delivery.moves_head else [])
        if self._outbox is not None:
            self._outbox.checkpoint_soon()  # the image's pages just left the outbox: write the WAL back now

    async def variation_turns(self, group: int) -> list[Turn]:
        async with self._conn.execute(
            SELECT_TURNS + " WHERE variation_group = ? ORDER BY id", (group,)
        ) as cursor:
            return [turn_from_row(row) for row in await cursor.fetchall()]

    async def kept_image(self, turn_id: int) -> tuple[bytes, str] | None:
        row = await self._one(
            "SELECT image, format FROM outbox JOIN turns ON turns.id = outbox.turn_id "
            "WHERE turn_id = ? AND turns.status = 'done'", (turn_id,)
        )
        if row is None:
            return None
        image = await self._outbox_image(turn_id, row["image"])
        return None if image is None else (image, row["format"])

    async def choose_variation(self, turn_id: int, chain_id: int, channel_id: int, message_id: int) -> None:
        await self._write_all([
            ("UPDATE threads SET head_turn_id = ?, updated_at = ? WHERE channel_id = ?",
             (turn_id, now_text(), chain_id)),
            ("UPDATE turns SET reply_channel_id = ?, reply_message_id = ? WHERE id = ?",
             (channel_id, message_id, turn_id)),
        ], drop=[turn_id])

    async def fail_turn(self, turn_id: int, code: str, error: str, *, charge: int = 0) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET status = 'failed', error_code = ?, error = ?, finished_at = ?, "
                "cost_reserved_micros = 0, cost_micros = MAX(cost_micros, ?) WHERE id = ?",
                (code, error[:500], now_text(), charge, turn_id),
            )
            await conn.execute(_CHARGE, (charge, turn_id))

    async def mark_started(self, turn_id: int) -> None:
        await self._write_all([("UPDATE spend SET started = 1 WHERE turn_id = ?", (turn_id,))])

    async def abandon_delivery(self, turn_id: int, error: str, *, keep_image: bool) -> None:
        await self._write_all([(
            "UPDATE turns SET status = 'failed', error_code = 'delivery', error = ?, finished_at = ?, "
            "cost_reserved_micros = 0 WHERE id = ?",
            (error[:500], now_text(), turn_id),
        )], drop=[] if keep_image else [turn_id])

    async def note_delivery_attempt(self, turn_id: int, error: str) -> int:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET delivery_attempts = delivery_attempts + 1, error = ? WHERE id = ?",
                (error[:500], turn_id),
            )
            async with conn.execute("SELECT delivery_attempts FROM turns WHERE id = ?", (turn_id,)) as cursor:
                row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def interrupt_turn(self, turn_id: int, *, charge: int = 0) -> None:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE turns SET status = 'interrupted', finished_at = ?, cost_reserved_micros = 0, "
                "cost_micros = MAX(cost_micros, ?) WHERE id = ? AND status IN (?, ?)",
                (now_text(), charge, turn_id, *UNFINISHED),
            )
            if cursor.rowcount:
                await conn.execute(_CHARGE, (charge, turn_id))

    async def interrupt_unfinished(self, scope: ShardScope | None = None) -> list[Turn]:
        async with self._transaction() as conn:
            async with conn.execute(SELECT_TURNS + " WHERE status IN (?, ?) ORDER BY id", UNFINISHED) as cursor:
                rows = await cursor.fetchall()
                turns = [t for t in map(turn_from_row, rows) if scope is None or scope.owns(t.guild_id)]
            await conn.executemany(
                "UPDATE turns SET status = 'interrupted', finished_at = ?, cost_reserved_micros = 0 "
                "WHERE id = ? AND status IN (?, ?)",
                [(now_text(), turn.id, *UNFINISHED) for turn in turns],
            )
            await conn.executemany(_CHARGE_CRASHED, [(turn.id,) for turn in turns])
            await conn.executemany(_COST_FROM_LEDGER, [(turn.id,) for turn in turns])
            charged = {}
            for turn in turns:
                async with conn.execute("SELECT cost_micros FROM turns WHERE id = ?", (turn.id,)) as cursor:
                    row = await cursor.fetchone()
                charged[turn.id] = int(row[0]) if row else 0
        # As they were when the bot stopped, with what they were charged (the member is told).
        return [replace(turn, cost_micros=charged[turn.id]) for turn in turns]

    async def pending_deliveries(self, scope: ShardScope | None = None) -> list[PendingDelivery]:
        async with self._conn.execute(
            "SELECT turn_id, guild_id FROM outbox JOIN turns ON turns.id = outbox.turn_id "
            "WHERE turns.status = 'delivering' ORDER BY turn_id"
        ) as cursor:
            owned = [row["turn_id"] for row in await cursor.fetchall() if scope is None or scope.owns(row["guild_id"])]
        pending = []
        for turn_id in owned:
            turn = await self.get_turn(turn_id)
            row = await self._one("SELECT image, format FROM outbox WHERE turn_id = ?", (turn_id,))
            if turn is None or row is None:
                continue  # delivered meanwhile by a job still running
            image = await self._outbox_image(turn_id, row["image"])
            if image is None:
                log.error("turn %d: its image file is missing from the outbox folder; it can't be posted", turn_id)
                continue
            pending.append(PendingDelivery(turn, image, row["format"]))
        return pending

    async def outbox_size(self) -> int:
        async with self._conn.execute("SELECT count(*) FROM outbox") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

