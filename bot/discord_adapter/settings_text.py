"""/threadpaint settings words, spoiler and role-budget: the changes they make and what they say.

Member-facing strings are module constants so they can move into message catalogues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import discord

from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings
from bot.core.wordlist import (
    LIST_FULL,
    MAX_RULES,
    RULE_ALREADY_LISTED,
    RULE_EMPTY,
    RULE_NOT_LISTED,
    normalise,
    shown,
)

SPOILER_NEEDS_CHANNEL = "Pick the channel whose results should (or should no longer) be spoilers."
SPOILER_SAVED = "✅ Spoiler setting saved."
EVERYONE_BUDGET = "Every member has @everyone; use `budget scope:member` to set everyone's limit."
ROLE_BUDGET_SAVED = "✅ {role}'s {period} budget saved."
RULE_ADDED = "✅ Blocked: {rule}. Prompts and instructions using it are refused before anything is paid for."
RULE_REMOVED = "✅ Removed {rule} from the blocked words."
RULES_CLEARED = "✅ Blocked words cleared."
NO_RULES = "This server blocks no words. Add one with `/threadpaint settings words action:add word:<word>`."
RULES_HEADING = "**Blocked words** ({count}; `*` matches any letters inside a word):"
MORE_RULES = "… and {count} more"
LOG_ON = "✅ Finished images, refusals and safety blocks will be posted in {channel}."
LOG_OFF = "✅ Log channel turned off."
LOG_NEEDS_CHANNEL = "Pick the log channel, or use `off:true` to stop logging."
LOG_CANNOT_POST = "I can't post in {channel}: I need {missing} there. Give me that permission, then try again."
# Discord's message limit is 2000 characters; the listing stops short of it.
LISTING_LIMIT = 1900

Change = Callable[[GuildSettings], GuildSettings]


def edit_rules(action: str, word: str | None) -> Change:
    """add/remove/clear on the blocked words; the rule is checked now, its place in the list at write time."""
    if action == "clear":
        return lambda s: dataclasses.replace(s, blocked_words=())
    if word is None:
        raise InvalidInput(RULE_EMPTY)
    rule = normalise(word)

    def change(s: GuildSettings) -> GuildSettings:
        if action == "add":
            if rule in s.blocked_words:
                raise InvalidInput(RULE_ALREADY_LISTED.format(rule=shown(rule)))
            if len(s.blocked_words) >= MAX_RULES:
                raise InvalidInput(LIST_FULL)
            return dataclasses.replace(s, blocked_words=(*s.blocked_words, rule))
        if action != "remove":
            raise ValueError(f"unknown action {action!r}")
        if rule not in s.blocked_words:
            raise InvalidInput(RULE_NOT_LISTED.format(rule=shown(rule)))
        return dataclasses.replace(s, blocked_words=tuple(r for r in s.blocked_words if r != rule))

    return change


def rules_headline(action: str, word: str | None) -> str:
    if action == "clear" or word is None:
        return RULES_CLEARED
    rule = shown(normalise(word))
    return (RULE_ADDED if action == "add" else RULE_REMOVED).format(rule=rule)


def rules_listing(rules: tuple[str, ...]) -> str:
    """The private answer to `words action:list`, within one message."""
    if not rules:
        return NO_RULES
    lines = [RULES_HEADING.format(count=len(rules))]
    used = len(lines[0])
    for index, rule in enumerate(rules):
        line = f"- {shown(rule)}"
        if used + len(line) + 1 + len(MORE_RULES) + 8 > LISTING_LIMIT:
            lines.append(MORE_RULES.format(count=len(rules) - index))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def missing_log_permissions(channel: discord.TextChannel) -> str | None:
    """What the bot lacks to post in a log channel ("View Channel and Send Messages"), or None."""
    me = channel.guild.me
    permissions = channel.permissions_for(me)
    missing = [name for name, has in (("View Channel", permissions.view_channel),
                                      ("Send Messages", permissions.send_messages)) if not has]
    return " and ".join(missing) or None
