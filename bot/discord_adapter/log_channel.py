"""A server's log channel (/threadpaint settings log): finished images, refusals and safety blocks, for moderators.

Posting never blocks a member's job: entries go into a bounded queue that one background task drains, one post per
POST_INTERVAL seconds (well inside Discord's 5 messages per 5 seconds per channel, and its global limit, however
busy the servers are). When the queue is full the oldest entry is dropped with a warning. Nothing posted here can
ping anyone (allowed mentions: none), and members' text is escaped like everywhere else. Posts are for the server's
staff, so they read in the server's preferred locale (English when it has no catalogue).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bot.core.costs import format_usd
from bot.core.errors import Blocked
from bot.core.i18n import Message, Text, tr
from bot.core.models import Turn
from bot.core.text import escape, shorten
from bot.discord_adapter.i18n import say, server_locale
from bot.storage import BotStore

log = logging.getLogger(__name__)

POST_INTERVAL = 1.0  # seconds between two posts, over all log channels together
MAX_QUEUED = 200  # about three minutes of posts at POST_INTERVAL
PROMPT_SHOWN = 700  # characters of a prompt (and of a revised prompt) in one post; two fit in 2000
QUIET = discord.AllowedMentions.none()

@dataclass(frozen=True)
class Entry:
    channel_id: int
    text: str


class LogChannel:
    """The one queue of log posts for the whole bot, and the task that sends them."""

    def __init__(
        self, client: discord.Client, store: BotStore, *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, max_queued: int = MAX_QUEUED,
    ) -> None:
        self._client = client
        self._store = store
        self.sleep = sleep  # the pace between posts; tests replace it to drive the queue without waiting
        self._queue: deque[Entry] = deque()
        self.max_queued = max_queued
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0

    async def refusal(
        self, guild_id: int | None, user_id: int, channel_id: int, reason: Message, prompt: str
    ) -> None:
        """A member was refused before anything was paid for."""
        await self._log(guild_id, lambda: refused_text(user_id, channel_id, reason, prompt))

    async def turn_ended(self, turn_id: int) -> None:
        """A job ended: its image, if it was delivered, or OpenAI's safety block; other endings aren't logged."""
        try:
            turn = await self._store.get_turn(turn_id)
        except Exception:
            log.warning("could not read turn %s for the log channel", turn_id, exc_info=True)
            return
        if turn is None:
            return
        if turn.status == "done":
            link = message_link(turn.guild_id, turn.reply_channel_id, turn.reply_message_id)
            await self._log(turn.guild_id, lambda: finished_text(turn, link))
        elif turn.error_code == Blocked.code:
            await self._log(turn.guild_id, lambda: blocked_text(turn))

    async def _log(self, guild_id: int | None, text: Callable[[], Text]) -> None:
        if guild_id is None:
            return  # DMs have no server, so no log channel
        try:
            channel_id = (await self._store.get_guild_settings(guild_id)).log_channel_id
        except Exception:
            log.warning("could not read server %s's log channel", guild_id, exc_info=True)
            return
        if channel_id is not None:
            self.post(channel_id, say(text(), server_locale(self._client, guild_id)))

    def post(self, channel_id: int, text: str) -> None:
        """Queue a post; returns at once (never awaits Discord)."""
        if len(self._queue) >= self.max_queued:
            self._queue.popleft()
            self.dropped += 1
            log.warning("log channel queue full (%d): dropped the oldest post", self.max_queued)
        self._queue.append(Entry(channel_id, shorten(text, 2000)))
        self._idle.clear()
        self._ready.set()

    async def wait_idle(self) -> None:
        """Until every queued post was sent (or given up on)."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                entry = self._queue.popleft()
                await self._send(entry)
                await self.sleep(POST_INTERVAL)
            self._ready.clear()
            self._idle.set()

    async def _send(self, entry: Entry) -> None:
        channel = self._client.get_partial_messageable(entry.channel_id)
        try:
            await channel.send(entry.text, allowed_mentions=QUIET)
        except discord.HTTPException as exc:
            # Deleted, or the bot lost access: the member's work is unaffected; the server's managers can fix it.
            log.warning("could not post to log channel %s: %s", entry.channel_id, exc)
        except Exception:
            log.exception("posting to log channel %s failed", entry.channel_id)  # the queue keeps draining


def finished_text(turn: Turn, link: str | None) -> Text:
    values = {"user": f"<@{turn.user_id}>", "channel": f"<#{turn.channel_id}>", "cost": format_usd(turn.cost_micros),
              "link": link or tr("(no link)"), "prompt": _shown(turn.prompt)}
    if turn.revised_prompt:
        return tr("🖼️ {user} made an image in {channel} for {cost}: {link}\n**Prompt:** {prompt}\n"
                  "**Revised prompt:** {revised}", revised=_shown(turn.revised_prompt), **values)
    return tr("🖼️ {user} made an image in {channel} for {cost}: {link}\n**Prompt:** {prompt}", **values)


def refused_text(user_id: int, channel_id: int, reason: Message, prompt: str) -> Text:
    """A refusal; prompt is empty when the member was stopped before typing one (a button, "Edit image")."""
    values = {"user": f"<@{user_id}>", "channel": f"<#{channel_id}>", "reason": reason}
    if prompt:
        return tr("✋ {user} was refused in {channel}: {reason}\n**Prompt:** {prompt}", prompt=_shown(prompt),
                  **values)
    return tr("✋ {user} was refused in {channel}: {reason}", **values)


def blocked_text(turn: Turn) -> Text:
    return tr("🚫 OpenAI's safety system blocked an image for {user} in {channel}.\n**Prompt:** {prompt}",
              user=f"<@{turn.user_id}>", channel=f"<#{turn.channel_id}>", prompt=_shown(turn.prompt))


def message_link(guild_id: int | None, channel_id: int | None, message_id: int | None) -> str | None:
    if guild_id is None or channel_id is None or message_id is None:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _shown(text: str) -> str:
    return shorten(escape(text), PROMPT_SHOWN)
