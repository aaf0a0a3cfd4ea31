"""What /forget, retention and /history need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.core.models import Turn
from bot.storage.base import SqliteBase
from bot.storage.rows import SELECT_TURNS, turn_from_row, utc_text

# Turns a job is still working on: deleting them would break the job mid-flight (its outbox insert and the
# head it sets reference the row) and lose a paid-for image, so privacy operations leave them alone.
IN_FLIGHT = ("queued", "running", "delivering")
FINISHED = ("done", "failed", "interrupted")

# After deletions: a conversation whose head went (ON DELETE SET NULL) continues from its newest remaining image,
# so /edit in someone's thread keeps working after another member's /forget. A variation nobody chose yet (its
# image still waits in the outbox) was never posted on its own, so it can't become the head. Same SQL on both
# databases.
REHEAD_ORPHANED_CHAINS = (
    "UPDATE threads SET head_turn_id = (SELECT max(id) FROM turns WHERE turns.chain_id = threads.channel_id "
    "AND turns.status = 'done' AND turns.response_id IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.turn_id = turns.id)) WHERE head_turn_id IS NULL"
)


@dataclass(frozen=True)
class ForgetResult:
    turns_deleted: int
    chains_deleted: int
    # Turns a job is still working on; kept, so the member can run /forget again once they finish.
    turns_kept_in_flight: int
    # OpenAI responses of the deleted turns, so the caller can ask OpenAI to delete them too.
    response_ids: tuple[str, ...]


@dataclass(frozen=True)
class ChainHistory:
    turns: list[Turn]  # the newest finished turns, oldest first
    total: int  # finished turns in the whole chain
    total_cost_micros: int


class PrivacyQueries(SqliteBase):
    async def forget_user(self, user_id: int) -> ForgetResult:
        """Delete the member's turns and the chains of threads they started (with every turn in them), atomically.

        Only 'thread' chains (the bot opened the thread on this member's result) are deleted whole. A 'channel'
        chain belongs to a channel or someone else's thread, so other members' turns there stay; only its
        row, which names this member as owner, goes. Foreign keys do the rest: parent links pointing at deleted
        turns become NULL, outbox rows cascade; a head that was the member's moves back to the newest remaining
        image. In-flight turns are kept (see IN_FLIGHT).
        """
        # Evaluated before the threads rows are deleted below, inside the same transaction.
        target = "(user_id = ? OR chain_id IN (SELECT channel_id FROM threads WHERE owner_id = ? AND kind = 'thread'))"
        async with self._transaction() as conn:
            kept = await _fetch(
                conn, f"SELECT count(*) FROM turns WHERE {target} AND status IN (?, ?, ?)",  # noqa: S608
                (user_id, user_id, *IN_FLIGHT),
            )
            responses = await _fetch(
                conn,
                f"SELECT response_id FROM turns WHERE {target} AND status IN (?, ?, ?) "  # noqa: S608
                "AND response_id IS NOT NULL GROUP BY response_id ORDER BY min(id)",
                (user_id, user_id, *FINISHED),
            )
            deleted = await conn.execute(
                f"DELETE FROM turns WHERE {target} AND status IN (?, ?, ?)",  # noqa: S608
                (user_id, user_id, *FINISHED),
            )
            chains = await conn.execute("DELETE FROM threads WHERE owner_id = ?", (user_id,))
            await conn.execute(REHEAD_ORPHANED_CHAINS)
        await self._sweep_images()  # the deleted turns' outbox rows went by cascade: their images go too
        return ForgetResult(
            turns_deleted=deleted.rowcount,
            chains_deleted=chains.rowcount,
            turns_kept_in_flight=int(kept[0][0]),
            response_ids=tuple(row[0] for row in responses),
        )

    async def purge_before(self, cutoff: datetime) -> int:
        """Retention: delete finished turns created before `cutoff`, then chains left empty and idle since.

        Returns the number of turns deleted. Turns still in flight are never touched.
        """
        before = utc_text(cutoff)
        async with self._transaction() as conn:
            deleted = await conn.execute(
                "DELETE FROM turns WHERE created_at < ? AND status IN (?, ?, ?)", (before, *FINISHED)
            )
            # The head became NULL through ON DELETE SET NULL; a chain that still has turns (e.g. one in
            # flight, or kept because it is recent) stays, so /edit keeps working there.
            await conn.execute(REHEAD_ORPHANED_CHAINS)
            await conn.execute(
                "DELETE FROM threads WHERE updated_at < ? AND head_turn_id IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM turns WHERE turns.chain_id = threads.channel_id)",
                (before,),
            )
        await self._sweep_images()
        return deleted.rowcount

    async def chain_history(self, chain_id: int, limit: int = 25) -> ChainHistory:
        """The chain's newest `limit` finished-with-a-result ('done') turns, oldest first, plus totals."""
        # sqlite.py imports this module (the mixin), so its row mapper can only be imported here.

        rows = await self._all(
            f"SELECT * FROM ({SELECT_TURNS} WHERE chain_id = ? AND status = 'done' "  # noqa: S608
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            (chain_id, limit),
        )
        totals = await self._one(
            "SELECT count(*), coalesce(sum(cost_micros), 0) FROM turns WHERE chain_id = ? AND status = 'done'",
            (chain_id,),
        )
        total, cost = (int(totals[0]), int(totals[1])) if totals else (0, 0)
        return ChainHistory([turn_from_row(row) for row in rows], total, cost)


async def _fetch(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())
