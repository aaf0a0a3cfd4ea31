"""The asyncpg Store: a connection pool, explicit transactions, advisory locks for exact admission.

Same public methods, return types and behaviour as SqliteStore (bot.storage.sqlite), checked by the storage
contract tests (tests/bot/storage/). Rows are turned into models by the SQLite store's own mappers, so both
backends build identical objects. Several bot processes may share one database: whatever SQLite gets from its
single writer (BEGIN IMMEDIATE), this store gets from transaction-scoped advisory locks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]

from bot.core.budgets import BudgetLimit
from bot.core.errors import OverBudget, too_many_jobs
from bot.core.guild_settings import GuildSettings
from bot.core.models import ChainRecord, Delivery, NewTurn, PendingDelivery, Turn, TurnResult
from bot.core.shards import ShardScope
from bot.storage.base import now_text
from bot.storage.guild_settings import _parse as parse_guild_settings
from bot.storage.postgres_base import PostgresBase, advisory_key, lock_keys, rows_affected
from bot.storage.privacy import (
    FINISHED,
    IN_FLIGHT,
    REHEAD_ORPHANED_CHAINS,
    ChainHistory,
    ForgetResult,
)
from bot.storage.rows import SELECT_TURNS, UNFINISHED, chain_from_row, turn_from_row, utc_text

# As in bot.storage.sqlite: the image goes in once, stashed when it arrives or with the result.
_STASH = (
    "INSERT INTO outbox (turn_id, image, format, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (turn_id) DO NOTHING"
)
# From the spend ledger, as in bot.storage.sqlite.
_SPENT_SUM = "SELECT COALESCE(SUM(held_micros + charged_micros), 0) FROM spend "
_SPENT = {
    "member": _SPENT_SUM + "WHERE user_id = $1 AND created_at >= $2",
    "server": _SPENT_SUM + "WHERE guild_id = $1 AND created_at >= $2",
    "bot": _SPENT_SUM + "WHERE paid_by = 'owner' AND created_at >= $1",
}
_CHARGE = "UPDATE spend SET held_micros = 0, charged_micros = GREATEST(charged_micros, $1) WHERE turn_id = $2"
_CHARGE_CRASHED = (
    "UPDATE spend SET charged_micros = GREATEST(charged_micros, CASE WHEN started = 1 THEN held_micros ELSE 0 END), "
    "held_micros = 0 WHERE turn_id = ANY($1::bigint[])"
)
_GUILD_UPSERT = (
    "INSERT INTO guild_settings (guild_id, settings, updated_by, updated_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at"
)
_GUILD_SELECT = "SELECT settings FROM guild_settings WHERE guild_id = $1"
# /forget's rows: the member's turns and every turn of the threads they own ($1 = the member).
_FORGET_TARGET = (
    "(user_id = $1 OR chain_id IN (SELECT channel_id FROM threads WHERE owner_id = $1 AND kind = 'thread'))"
)


class PostgresStore(PostgresBase):
    """Implements bot.core.ports.Store and bot.storage.interface.BotStore on PostgreSQL."""

    # ------------------------------------------------------------------------------------------ chains, turns

    async def get_chain(self, channel_id: int) -> ChainRecord | None:
        row = await self._one("SELECT * FROM threads WHERE channel_id = $1", channel_id)
        return chain_from_row(row) if row else None

    async def get_head(self, channel_id: int) -> Turn | None:
        row = await self._one(
            SELECT_TURNS + " WHERE id = (SELECT head_turn_id FROM threads WHERE channel_id = $1)",  # noqa: S608
            channel_id,
        )
        return turn_from_row(row) if row else None

    async def get_turn(self, turn_id: int) -> Turn | None:
        row = await self._one(SELECT_TURNS + " WHERE id = $1", turn_id)
        return turn_from_row(row) if row else None

    async def turn_for_interaction(self, interaction_id: int) -> Turn | None:
        row = await self._one(SELECT_TURNS + " WHERE interaction_id = $1", interaction_id)
        return turn_from_row(row) if row else None

    async def list_turns(self, chain_id: int) -> list[Turn]:
        rows = await self._all(SELECT_TURNS + " WHERE chain_id = $1 ORDER BY id", chain_id)
        return [turn_from_row(row) for row in rows]

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
        or OverBudget. The check and the insert run in one transaction holding advisory locks on the member and
        the server (and every budget's subject), so admissions touching the same counts are serialised across
        all connections and processes while unrelated members proceed in parallel.
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
        first = turns[0]
        total = reserve * len(turns)
        keys = lock_keys([
            ("member", first.user_id),
            ("server", first.guild_id),
            *((limit.scope, limit.subject_id) for limit in limits),
        ])
        ids: list[int] = []
        try:
            async with self._transaction(*keys) as conn:
                if max_in_flight is not None:
                    in_flight = await self._scalar(
                        "SELECT count(*) FROM turns WHERE user_id = $1 AND status IN ('queued', 'running')",
                        first.user_id, conn=conn,
                    )
                    if in_flight >= max_in_flight:
                        raise too_many_jobs(in_flight, max_in_flight)
                for limit in limits:
                    since = limit.since.astimezone(UTC).isoformat(timespec="milliseconds")
                    params = (since,) if limit.scope == "bot" else (limit.subject_id, since)
                    spent = await self._scalar(_SPENT[limit.scope], *params, conn=conn)
                    if spent + total > limit.limit:
                        raise OverBudget(limit.refusal(spent, total, images=len(turns)))
                created = now_text()
                for turn in turns:
                    turn_id = await conn.fetchval(
                        "INSERT INTO turns (chain_id, interaction_id, guild_id, channel_id, user_id, kind, prompt, "
                        "options, had_input_image, reply_channel_id, reply_message_id, status, "
                        "cost_reserved_micros, created_at, variation_group, variation_index) VALUES ($1, $2, $3, "
                        "$4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12, $13, $14, $15) RETURNING id",
                        turn.chain_id, turn.interaction_id, turn.guild_id, turn.channel_id, turn.user_id,
                        turn.kind, turn.prompt, turn.options.to_json(), int(turn.had_input_image),
                        turn.reply_channel_id, turn.reply_message_id, reserve, created,
                        turn.variation_group, turn.variation_index,
                    )
                    await conn.execute(
                        "INSERT INTO spend (turn_id, user_id, guild_id, held_micros, created_at, paid_by) "
                        "VALUES ($1, $2, $3, $4, $5, $6)",
                        turn_id, turn.user_id, turn.guild_id, reserve, created, turn.paid_by,
                    )
                    ids.append(int(turn_id))
        except asyncpg.UniqueViolationError:
            return None  # this interaction already has a job: Discord delivered it twice
        return ids

    async def start_turn(self, turn_id: int, parent_turn_id: int | None, previous_response_id: str | None) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET status = 'running', parent_turn_id = $1, previous_response_id = $2 WHERE id = $3",
                parent_turn_id, previous_response_id, turn_id,
            )

    async def set_reply_message(self, turn_id: int, channel_id: int, message_id: int) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET reply_channel_id = $1, reply_message_id = $2 WHERE id = $3",
                channel_id, message_id, turn_id,
            )

    async def stash_image(self, turn_id: int, image: bytes, fmt: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(_STASH, turn_id, image, fmt, now_text())

    async def save_result(self, turn_id: int, result: TurnResult, image: bytes | None, fmt: str) -> None:
        usage = result.usage  # the real cost replaces the reservation from here on
        async with self._transaction() as conn:
            if image is not None:
                await conn.execute(_STASH, turn_id, image, fmt, now_text())
            await conn.execute(
                "UPDATE turns SET status = 'delivering', response_id = $1, image_call_id = $2, revised_prompt = $3, "
                "input_tokens = $4, output_tokens = $5, image_input_tokens = $6, image_output_tokens = $7, "
                "cost_micros = $8, cost_reserved_micros = 0 WHERE id = $9",
                result.response_id, result.image_call_id, result.revised_prompt, usage.input_tokens,
                usage.output_tokens, usage.image_input_tokens, usage.image_output_tokens, result.cost_micros,
                turn_id,
            )
            await conn.execute(_CHARGE, result.cost_micros, turn_id)

    async def complete_turn(self, turn_id: int, delivery: Delivery, *, owner_id: int, guild_id: int | None) -> None:
        now = now_text()
        head = turn_id if delivery.moves_head else None
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO threads (channel_id, guild_id, parent_channel_id, owner_id, kind, head_turn_id, "
                "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (channel_id) DO UPDATE SET head_turn_id = COALESCE($6, threads.head_turn_id), "
                "updated_at = excluded.updated_at",
                delivery.chain_id, guild_id, delivery.parent_channel_id, owner_id, delivery.chain_kind,
                head, now, now,
            )
            await conn.execute(
                "UPDATE turns SET chain_id = $1, status = 'done', reply_channel_id = $2, reply_message_id = $3, "
                "finished_at = $4 WHERE id = $5",
                delivery.chain_id, delivery.message_channel_id, delivery.message_id, now, turn_id,
            )
            if delivery.moves_head:  # a variation keeps its image until "Use" posts it full size
                await conn.execute("DELETE FROM outbox WHERE turn_id = $1", turn_id)

    async def variation_turns(self, group: int) -> list[Turn]:
        rows = await self._all(SELECT_TURNS + " WHERE variation_group = $1 ORDER BY id", group)
        return [turn_from_row(row) for row in rows]

    async def kept_image(self, turn_id: int) -> tuple[bytes, str] | None:
        row = await self._one(
            "SELECT image, format FROM outbox JOIN turns ON turns.id = outbox.turn_id "
            "WHERE turn_id = $1 AND turns.status = 'done'", turn_id,
        )
        return (bytes(row["image"]), row["format"]) if row else None

    async def choose_variation(self, turn_id: int, chain_id: int, channel_id: int, message_id: int) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE threads SET head_turn_id = $1, updated_at = $2 WHERE channel_id = $3",
                turn_id, now_text(), chain_id,
            )
            await conn.execute(
                "UPDATE turns SET reply_channel_id = $1, reply_message_id = $2 WHERE id = $3",
                channel_id, message_id, turn_id,
            )
            await conn.execute("DELETE FROM outbox WHERE turn_id = $1", turn_id)

    async def fail_turn(self, turn_id: int, code: str, error: str, *, charge: int = 0) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET status = 'failed', error_code = $1, error = $2, finished_at = $3, "
                "cost_reserved_micros = 0, cost_micros = GREATEST(cost_micros, $4) WHERE id = $5",
                code, error[:500], now_text(), charge, turn_id,
            )
            await conn.execute(_CHARGE, charge, turn_id)

    async def mark_started(self, turn_id: int) -> None:
        async with self._transaction() as conn:
            await conn.execute("UPDATE spend SET started = 1 WHERE turn_id = $1", turn_id)

    async def abandon_delivery(self, turn_id: int, error: str, *, keep_image: bool) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE turns SET status = 'failed', error_code = 'delivery', error = $1, finished_at = $2, "
                "cost_reserved_micros = 0 WHERE id = $3",
                error[:500], now_text(), turn_id,
            )
            if not keep_image:
                await conn.execute("DELETE FROM outbox WHERE turn_id = $1", turn_id)

    async def note_delivery_attempt(self, turn_id: int, error: str) -> int:
        async with self._transaction() as conn:
            attempts = await conn.fetchval(
                "UPDATE turns SET delivery_attempts = delivery_attempts + 1, error = $1 WHERE id = $2 "
                "RETURNING delivery_attempts",
                error[:500], turn_id,
            )
        return int(attempts) if attempts is not None else 0

    async def interrupt_turn(self, turn_id: int, *, charge: int = 0) -> None:
        async with self._transaction() as conn:
            status = await conn.execute(
                "UPDATE turns SET status = 'interrupted', finished_at = $1, cost_reserved_micros = 0, "
                "cost_micros = GREATEST(cost_micros, $2) WHERE id = $3 AND status = ANY($4::text[])",
                now_text(), charge, turn_id, list(UNFINISHED),
            )
            if rows_affected(status):
                await conn.execute(_CHARGE, charge, turn_id)

    async def interrupt_unfinished(self, scope: ShardScope | None = None) -> list[Turn]:
        async with self._transaction() as conn:
            # FOR UPDATE: a job of another process finishing right now waits, then its own update still applies
            # only if the turn is unfinished (its statements check the status).
            rows = await conn.fetch(
                SELECT_TURNS + " WHERE status = ANY($1::text[]) ORDER BY id FOR UPDATE", list(UNFINISHED)
            )
            turns = [t for t in map(turn_from_row, rows) if scope is None or scope.owns(t.guild_id)]
            await conn.execute(
                "UPDATE turns SET status = 'interrupted', finished_at = $1, cost_reserved_micros = 0 "
                "WHERE id = ANY($2::bigint[])",
                now_text(), [turn.id for turn in turns],
            )
            await conn.execute(_CHARGE_CRASHED, [turn.id for turn in turns])
            rows = await conn.fetch(
                "UPDATE turns SET cost_micros = spend.charged_micros FROM spend "
                "WHERE turns.id = spend.turn_id AND turns.id = ANY($1::bigint[]) RETURNING turns.id, turns.cost_micros",
                [turn.id for turn in turns],
            )
        charged = {row[0]: int(row[1]) for row in rows}
        # As they were when the bot stopped, with what they were charged (the member is told).
        return [replace(turn, cost_micros=charged.get(turn.id, turn.cost_micros)) for turn in turns]

    async def pending_deliveries(self, scope: ShardScope | None = None) -> list[PendingDelivery]:
        rows = await self._all(
            "SELECT turn_id, guild_id FROM outbox JOIN turns ON turns.id = outbox.turn_id "
            "WHERE turns.status = 'delivering' ORDER BY turn_id"
        )
        pending = []
        for turn_id in (r["turn_id"] for r in rows if scope is None or scope.owns(r["guild_id"])):
            turn = await self.get_turn(turn_id)
            row = await self._one("SELECT image, format FROM outbox WHERE turn_id = $1", turn_id)
            if turn is not None and row is not None:  # delivered meanwhile by a job still running
                pending.append(PendingDelivery(turn, bytes(row["image"]), row["format"]))
        return pending

    async def outbox_size(self) -> int:
        return await self._scalar("SELECT count(*) FROM outbox")

    # ------------------------------------------------------------------------------------------ server settings

    async def get_server_key(self, guild_id: int) -> tuple[bool, str | None]:
        row = await self._one("SELECT ciphertext FROM server_keys WHERE guild_id = $1", guild_id)
        return (row is not None, row["ciphertext"] if row else None)

    async def set_server_key(self, guild_id: int, ciphertext: str | None, updated_by: int) -> None:
        async with self._transaction(advisory_key("guild_settings", guild_id)) as conn:
            await conn.execute(
                "INSERT INTO server_keys (guild_id, ciphertext, updated_by, updated_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (guild_id) DO UPDATE SET ciphertext = excluded.ciphertext, "
                "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                guild_id, ciphertext, updated_by, now_text(),
            )

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._one(_GUILD_SELECT, guild_id)
        return parse_guild_settings(guild_id, row["settings"] if row else None)

    async def set_guild_settings(self, guild_id: int, settings: GuildSettings, updated_by: int) -> None:
        async with self._transaction(advisory_key("guild_settings", guild_id)) as conn:
            await conn.execute(_GUILD_UPSERT, guild_id, settings.to_json(), updated_by, now_text())

    async def update_guild_settings(
        self, guild_id: int, change: Callable[[GuildSettings], GuildSettings], updated_by: int
    ) -> GuildSettings:
        """Read, change and write in one transaction under the server's settings lock, so two admins (or two
        bot processes) editing at once can't undo each other. `change` may raise: nothing is written then."""
        async with self._transaction(advisory_key("guild_settings", guild_id)) as conn:
            row = await conn.fetchrow(_GUILD_SELECT, guild_id)
            settings = change(parse_guild_settings(guild_id, row["settings"] if row else None))
            await conn.execute(_GUILD_UPSERT, guild_id, settings.to_json(), updated_by, now_text())
        return settings

    # ------------------------------------------------------------------------------------------ privacy

    async def forget_user(self, user_id: int) -> ForgetResult:
        """Same contract as PrivacyQueries.forget_user: one transaction, in-flight turns kept."""
        async with self._transaction(advisory_key("member", user_id)) as conn:
            kept = await conn.fetchval(
                f"SELECT count(*) FROM turns WHERE {_FORGET_TARGET} AND status = ANY($2::text[])",  # noqa: S608
                user_id, list(IN_FLIGHT),
            )
            responses = await conn.fetch(
                f"SELECT response_id FROM turns WHERE {_FORGET_TARGET} AND status = ANY($2::text[]) "  # noqa: S608
                "AND response_id IS NOT NULL GROUP BY response_id ORDER BY min(id)",
                user_id, list(FINISHED),
            )
            deleted = await conn.execute(
                f"DELETE FROM turns WHERE {_FORGET_TARGET} AND status = ANY($2::text[])",  # noqa: S608
                user_id, list(FINISHED),
            )
            chains = await conn.execute("DELETE FROM threads WHERE owner_id = $1", user_id)
            await conn.execute(REHEAD_ORPHANED_CHAINS)
        return ForgetResult(
            turns_deleted=rows_affected(deleted),
            chains_deleted=rows_affected(chains),
            turns_kept_in_flight=int(kept),
            response_ids=tuple(row[0] for row in responses),
        )

    async def purge_before(self, cutoff: datetime) -> int:
        """Same contract as PrivacyQueries.purge_before: finished turns before `cutoff`, then idle empty chains."""
        before = utc_text(cutoff)
        async with self._transaction() as conn:
            deleted = await conn.execute(
                "DELETE FROM turns WHERE created_at < $1 AND status = ANY($2::text[])", before, list(FINISHED)
            )
            await conn.execute(REHEAD_ORPHANED_CHAINS)
            await conn.execute(
                "DELETE FROM threads WHERE updated_at < $1 AND head_turn_id IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM turns WHERE turns.chain_id = threads.channel_id)",
                before,
            )
        return rows_affected(deleted)

    async def chain_history(self, chain_id: int, limit: int = 25) -> ChainHistory:
        """The chain's newest `limit` 'done' turns, oldest first, plus totals."""
        rows = await self._all(
            f"SELECT * FROM ({SELECT_TURNS} WHERE chain_id = $1 AND status = 'done' "  # noqa: S608
            "ORDER BY id DESC LIMIT $2) AS newest ORDER BY id",
            chain_id, limit,
        )
        totals = await self._one(
            "SELECT count(*), coalesce(sum(cost_micros), 0) FROM turns WHERE chain_id = $1 AND status = 'done'",
            chain_id,
        )
        total, cost = (int(totals[0]), int(totals[1])) if totals else (0, 0)
        return ChainHistory([turn_from_row(row) for row in rows], total, cost)

    # ------------------------------------------------------------------------------------------ usage

    async def spend(
        self, *, since: datetime, user_id: int | None = None, guild_id: int | None = None, paid_by: str | None = None,
    ) -> int:
        """Micro-dollars spent on turns created at or after `since`, by one member and/or in one server (and/or
        paid by one kind of key)."""
        where = ["created_at >= $1"]
        params: list[object] = [utc_text(since)]
        if user_id is not None:
            params.append(user_id)
            where.append(f"user_id = ${len(params)}")
        if guild_id is not None:
            params.append(guild_id)
            where.append(f"guild_id = ${len(params)}")
        if paid_by is not None:
            params.append(paid_by)
            where.append(f"paid_by = ${len(params)}")
        # Only fixed column conditions are joined; every value is a parameter.
        sql = "SELECT coalesce(sum(charged_micros), 0) FROM spend WHERE " + " AND ".join(where)  # noqa: S608
        return await self._scalar(sql, *params)

    async def top_spenders(self, guild_id: int, since: datetime, limit: int = 5) -> list[tuple[int, int]]:
        """(user_id, micros) of the server's biggest spenders since `since`, biggest first; ties by user id."""
        rows = await self._all(
            "SELECT user_id, sum(charged_micros) AS spent FROM spend "
            "WHERE guild_id = $1 AND created_at >= $2 GROUP BY user_id HAVING sum(charged_micros) > 0 "
            "ORDER BY spent DESC, user_id LIMIT $3",
            guild_id, utc_text(since), limit,
        )
        return [(int(row[0]), int(row[1])) for row in rows]
