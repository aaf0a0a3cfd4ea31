"""A server's own OpenAI key: encrypted at rest with the owner's SERVER_KEYS_SECRET, checked once, used per job.

The key is never echoed to anyone, never logged (the log redaction learns it the moment it is seen) and never
stored in the clear: the database holds only Fernet ciphertext, useless without the owner's secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
import openai

from bot.core.errors import InvalidInput
from bot.core.i18n import Text, tr
from bot.discord_adapter.i18n import say
from bot.ops.log import redact_also
from bot.storage import BotStore

log = logging.getLogger(__name__)

# Member-facing text: catalogue messages, rendered in the member's language at the Discord edge.
KEYS_OFF = tr(
    "Servers can't use their own OpenAI key with this bot: its owner has not set SERVER_KEYS_SECRET, which keeps "
    "such keys encrypted."
)
KEY_SAVED = tr("✅ This server's own OpenAI key is saved (encrypted). Images made here are billed to it from now on.")
KEY_REMOVED = tr("✅ This server's own OpenAI key is removed.")
KEY_REMOVED_NO_FALLBACK = tr(
    "✅ This server's own OpenAI key is removed. The bot's owner doesn't lend their key after that, so images "
    "can't be made here until a manager sets a key again."
)
NO_KEY_TO_REMOVE = tr("This server has no OpenAI key of its own.")
KEY_REJECTED = tr(
    "OpenAI didn't accept that key (it may be mistyped, revoked or without API access). Nothing was saved."
)
KEY_UNCHECKED = tr("I couldn't reach OpenAI to check that key just now. Nothing was saved; please try again.")
KEY_GONE = tr(
    "This server removed its own OpenAI key, and the bot's owner doesn't lend theirs, so I can't make images here. "
    "A server manager can set a key with /threadpaint settings key."
)
KEY_UNREADABLE = tr(
    "This server's OpenAI key can't be read any more (the bot's owner changed SERVER_KEYS_SECRET). "
    "A server manager needs to set it again with /threadpaint settings key."
)
KEY_OWN = tr("this server's own")
KEY_BOTS = tr("the bot's")
KEY_NONE = tr("none (this server removed its own, and the bot's owner doesn't lend theirs)")


class KeyVault:
    """Fernet with the owner's secret: encrypts keys for the database and reads them back for a job."""

    def __init__(self, secret: str) -> None:
        # Imported here: only owners who set SERVER_KEYS_SECRET pay cryptography's memory (several MB).
        from cryptography.fernet import Fernet, InvalidToken

        self._fernet = Fernet(secret.encode())
        self._invalid = InvalidToken

    def seal(self, key: str) -> str:
        return self._fernet.encrypt(key.encode()).decode()

    def open(self, ciphertext: str) -> str | None:
        try:
            key = self._fernet.decrypt(ciphertext.encode()).decode()
        except self._invalid:
            return None
        redact_also(key)
        return key


async def check_key(client: openai.AsyncOpenAI, key: str) -> None:
    """One cheap authenticated call (GET /v1/models); raises InvalidInput saying why the key can't be used."""
    try:
        await client.with_options(api_key=key, max_retries=0).models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError):
        raise InvalidInput(KEY_REJECTED) from None
    except openai.OpenAIError as exc:
        log.warning("could not check a server's OpenAI key: %s", type(exc).__name__)
        raise InvalidInput(KEY_UNCHECKED) from None


async def job_key(store: BotStore, vault: KeyVault | None, guild_id: int | None, *, fallback: bool) -> str | None:
    """The key a job here is billed to: the server's own, or None for the bot's. Raises InvalidInput when neither
    may be used (the server removed its key and the owner doesn't lend theirs, or it can't be decrypted)."""
    if guild_id is None:
        return None
    had_one, ciphertext = await store.get_server_key(guild_id)
    if ciphertext is not None and vault is not None:
        key = vault.open(ciphertext)
        if key is None:
            log.error("server %s's OpenAI key can't be decrypted with SERVER_KEYS_SECRET", guild_id)
            raise InvalidInput(KEY_UNREADABLE)
        return key
    if had_one and not fallback:
        raise InvalidInput(KEY_GONE)
    return None  # never had one, or SERVER_KEYS_SECRET is unset (the feature is off: the owner's key, as before)


async def key_line(store: BotStore, guild_id: int, *, enabled: bool, fallback: bool) -> Text:
    had_one, ciphertext = await store.get_server_key(guild_id)
    if ciphertext is not None and enabled:
        return tr("**OpenAI key:** {which}", which=KEY_OWN)
    return tr("**OpenAI key:** {which}", which=KEY_NONE if had_one and not fallback else KEY_BOTS)


class KeyModal(discord.ui.Modal):
    """Asks a manager for the key privately; Discord shows the reply to them alone and the key is never echoed."""

    def __init__(
        self, on_key: Callable[[discord.Interaction, str], Awaitable[None]], locale: discord.Locale | None = None
    ) -> None:
        # Discord shows a modal as sent: its title and label are rendered in the manager's language here.
        super().__init__(title=say(tr("Set this server's OpenAI key"), locale), timeout=600)
        self.key: discord.ui.TextInput[KeyModal] = discord.ui.TextInput(
            label=say(tr("This server's OpenAI API key"), locale), style=discord.TextStyle.short, min_length=20,
            max_length=300, placeholder="sk-…",
        )
        self.add_item(self.key)
        self._on_key = on_key

    async def on_submit(self, interaction: discord.Interaction) -> None:
        value = self.key.value.strip()
        redact_also(value)  # before anything could log it, even by accident
        await self._on_key(interaction, value)
