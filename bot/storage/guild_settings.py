"""Per-server settings (/threadpaint settings): one JSON row per guild in `guild_settings`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.guild_settings import GuildSettings
from bot.storage.base import SqliteBase, now_text

log = logging.getLogger(__name__)

_UPSERT = (
    "INSERT INTO guild_settings (guild_id, settings, updated_by, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at"
)
_SELECT = "SELECT settings FROM guild_settings WHERE guild_id = ?"


class GuildSettingsQueries(SqliteBase):
    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """The server's settings; the defaults when it never changed any. Read on every /draw, so no caching
        is needed for a change to apply at once."""
        row = await self._one(_SELECT, (guild_id,))
        return _parse(guild_id, row["settings"] if row else None)

    async def set_guild_settings(self, guild_id: int, settings: GuildSettings, updated_by: int) -> None:
        async with self._transaction() as conn:
            await conn.execute(_UPSERT, (guild_id, settings.to_json(), updated_by, now_text()))

    async def update_guild_settings(
        self, guild_id: int, change: Callable[[GuildSettings], GuildSettings], updated_by: int
    ) -> GuildSettings:
        """Read, change and write in one transaction, so two admins editing at once can't undo each other.

        `change` may raise (an invalid edit); the transaction then rolls back and nothing is written.
        """
        async with self._transaction() as conn:
            async with conn.execute(_SELECT, (guild_id,)) as cursor:
                row = await cursor.fetchone()
            settings = change(_parse(guild_id, row["settings"] if row else None))
            await conn.execute(_UPSERT, (guild_id, settings.to_json(), updated_by, now_text()))
        return settings

    async def get_server_key(self, guild_id: int) -> tuple[bool, str | None]:
        row = await self._one("SELECT ciphertext FROM server_keys WHERE guild_id = ?", (guild_id,))
        return (row is not None, row["ciphertext"] if row else None)

    async def set_server_key(self, guild_id: int, ciphertext: str | None, updated_by: int) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO server_keys (guild_id, ciphertext, updated_by, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET ciphertext = excluded.ciphertext, "
                "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (guild_id, ciphertext, updated_by, now_text()),
            )


def _parse(guild_id: int, text: str | None) -> GuildSettings:
    if text is None:
        return GuildSettings()
    try:
        return GuildSettings.from_json(text)
    except ValueError:
        # Only a hand-edited row gets here; failing would lock admins out of fixing it with the commands.
        log.error("guild %s has unreadable settings; using the defaults until they are saved again", guild_id)
        return GuildSettings()
