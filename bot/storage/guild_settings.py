"""Per-server settings (/threadpaint settings)."""

from __future__ import annotations

from bot.storage.base import SqliteBase


class GuildSettingsQueries(SqliteBase):
    pass
