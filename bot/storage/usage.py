"""Spend per member and per server, for /usage."""

from __future__ import annotations

from bot.storage.base import SqliteBase


class UsageQueries(SqliteBase):
    pass
