"""BotStore: everything the bot and its cogs use of a store, whichever database is behind it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.core.guild_settings import GuildSettings
from bot.core.models import Turn
from bot.core.ports import Store
from bot.storage.privacy import ChainHistory, ForgetResult


@runtime_checkable
class BotStore(Store, Protocol):
    """The engine's Store plus the queries of the cogs (/settings, /forget, retention, /history, /usage).

    Implemented by SqliteStore (bot.storage.sqlite) and PostgresStore (bot.storage.postgres).
    """

    # ---- turns and chains, beyond the engine's protocol
    async def turn_for_interaction(self, interaction_id: int) -> Turn | None: ...

    async def list_turns(self, chain_id: int) -> list[Turn]: ...

    async def set_reply_message(self, turn_id: int, channel_id: int, message_id: int) -> None: ...

    async def outbox_size(self) -> int: ...

    # ---- variations (/draw count)
    async def variation_turns(self, group: int) -> list[Turn]: ...

    async def kept_image(self, turn_id: int) -> tuple[bytes, str] | None:
        """A finished variation's full-size image, kept until "Use" posts it."""
        ...

    async def choose_variation(self, turn_id: int, chain_id: int, channel_id: int, message_id: int) -> None:
        """Make a variation its conversation's head, posted full size at channel_id/message_id."""
        ...

    # ---- per-server settings
    async def get_guild_settings(self, guild_id: int) -> GuildSettings: ...

    async def set_guild_settings(self, guild_id: int, settings: GuildSettings, updated_by: int) -> None: ...

    async def update_guild_settings(
        self, guild_id: int, change: Callable[[GuildSettings], GuildSettings], updated_by: int
    ) -> GuildSettings: ...

    # ---- privacy
    async def forget_user(self, user_id: int) -> ForgetResult: ...

    async def purge_before(self, cutoff: datetime) -> int: ...

    async def chain_history(self, chain_id: int, limit: int = 25) -> ChainHistory: ...

    # ---- usage
    async def spend(
        self, *, since: datetime, user_id: int | None = None, guild_id: int | None = None, paid_by: str | None = None,
    ) -> int: ...

    async def get_server_key(self, guild_id: int) -> tuple[bool, str | None]:
        """(whether the server ever set its own key, its ciphertext or None once removed)."""
        ...

    async def set_server_key(self, guild_id: int, ciphertext: str | None, updated_by: int) -> None:
        """Store a server key's ciphertext, or None to remove it (the row stays: the server had one)."""
        ...

    async def top_spenders(self, guild_id: int, since: datetime, limit: int = 5) -> list[tuple[int, int]]: ...

    # ---- Discord gateway
    async def wait_to_identify(self, bucket: int, spacing: float) -> None:
        """Return when this process may IDENTIFY in `bucket`; nobody else sharing the database may for `spacing`
        seconds after."""
        ...


__all__ = ["BotStore"]
