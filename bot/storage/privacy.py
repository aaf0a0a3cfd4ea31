"""What /forget, retention and /history need."""

from __future__ import annotations

from bot.storage.base import SqliteBase


class PrivacyQueries(SqliteBase):
    pass
