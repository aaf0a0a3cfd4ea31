"""Spend per member and per server, for /usage."""

from __future__ import annotations

from datetime import datetime

from bot.storage.base import SqliteBase
from bot.storage.rows import utc_text

# Read from the spend ledger, which /forget and retention never reduce. Only charges count (what OpenAI billed
# for finished, cancelled or failed jobs); estimates held for jobs still running are not spend yet.


class UsageQueries(SqliteBase):
    async def spend(
        self, *, since: datetime, user_id: int | None = None, guild_id: int | None = None, paid_by: str | None = None,
    ) -> int:
        """Micro-dollars charged for jobs started at or after `since`, by one member and/or in one server (and/or
        paid by one kind of key: "owner" or "server")."""
        where = ["created_at >= ?"]
        params: list[object] = [utc_text(since)]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if guild_id is not None:
            where.append("guild_id = ?")
            params.append(guild_id)
        if paid_by is not None:
            where.append("paid_by = ?")
            params.append(paid_by)
        row = await self._one(
            # Only fixed column conditions are joined; every value is a parameter.
            "SELECT coalesce(sum(charged_micros), 0) FROM spend WHERE " + " AND ".join(where),  # noqa: S608
            tuple(params),
        )
        return int(row[0]) if row else 0

    async def top_spenders(self, guild_id: int, since: datetime, limit: int = 5) -> list[tuple[int, int]]:
        """(user_id, micros) of the server's biggest spenders since `since`, biggest first; ties by user id."""
        rows = await self._all(
            "SELECT user_id, sum(charged_micros) AS spent FROM spend "
            "WHERE guild_id = ? AND created_at >= ? GROUP BY user_id HAVING spent > 0 "
            "ORDER BY spent DESC, user_id LIMIT ?",
            (guild_id, utc_text(since), limit),
        )
        return [(int(row[0]), int(row[1])) for row in rows]
