"""A server's rules that Discord facts decide: blocked words in what a member typed, spoilers where a result lands."""

from __future__ import annotations

import logging

from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings, spoilered
from bot.core.wordlist import first_match
from bot.core.wordlist import refusal as blocked_word

log = logging.getLogger(__name__)


def check_words(server: GuildSettings, text: str, what: str) -> None:
    """The server's blocked words: a private refusal naming the rule, before anything is paid for."""
    rule = first_match(server.blocked_words, text)
    if rule is not None:
        log.info("refused by the server's blocked-word rule %r", rule)
        raise InvalidInput(blocked_word(rule, what))


def spoiler_here(server: GuildSettings, channel: object) -> bool:
    """Whether a result posted in this channel is a spoiler (threads follow their parent; DMs never)."""
    channel_id = getattr(channel, "id", None)
    if channel_id is None:
        return server.spoiler
    is_nsfw = getattr(channel, "is_nsfw", None)
    return spoilered(
        server, channel_id=channel_id, parent_channel_id=getattr(channel, "parent_id", None),
        age_restricted=bool(is_nsfw()) if callable(is_nsfw) else False,
    )
