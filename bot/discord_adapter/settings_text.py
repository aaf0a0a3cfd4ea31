"""/threadpaint settings words, spoiler and role-budget: the changes they make and what they say.

Member-facing strings are catalogue messages (tr), rendered in the manager's language by the settings cog.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import discord

from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings
from bot.core.i18n import Message, Text, join_lines, tr, tr_n
from bot.core.wordlist import LIST_FULL, MAX_RULES, RULE_EMPTY, normalise, shown

SPOILER_NEEDS_CHANNEL = tr("Pick the channel whose results should (or should no longer) be spoilers.")
SPOILER_SAVED = tr("✅ Spoiler setting saved.")
EVERYONE_BUDGET = tr("Every member has @everyone; use `budget scope:member` to set everyone's limit.")
RULES_CLEARED = tr("✅ Blocked words cleared.")
NO_RULES = tr("This server blocks no words. Add one with `/threadpaint settings words action:add word:<word>`.")
LOG_OFF = tr("✅ Log channel turned off.")
LOG_NEEDS_CHANNEL = tr("Pick the log channel, or use `off:true` to stop logging.")
# Discord's message limit is 2000 characters; the listing stops short of it.
LISTING_LIMIT = 1900
# Room for the heading and the "… and n more" line in the wordiest language.
HEADING_ROOM, MORE_ROOM = 120, 40

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
                raise InvalidInput(tr("{rule} is already on the list.", rule=shown(rule)))
            if len(s.blocked_words) >= MAX_RULES:
                raise InvalidInput(LIST_FULL)
            return dataclasses.replace(s, blocked_words=(*s.blocked_words, rule))
        if action != "remove":
            raise ValueError(f"unknown action {action!r}")
        if rule not in s.blocked_words:
            raise InvalidInput(tr("{rule} isn't on the list.", rule=shown(rule)))
        return dataclasses.replace(s, blocked_words=tuple(r for r in s.blocked_words if r != rule))

    return change


def rules_headline(action: str, word: str | None) -> Text:
    if action == "clear" or word is None:
        return RULES_CLEARED
    rule = shown(normalise(word))
    if action == "add":
        return tr("✅ Blocked: {rule}. Prompts and instructions using it are refused before anything is paid for.",
                  rule=rule)
    return tr("✅ Removed {rule} from the blocked words.", rule=rule)


def role_budget_saved(role: str, period: str) -> Text:
    if period == "daily":
        return tr("✅ {role}'s daily budget saved.", role=role)
    return tr("✅ {role}'s monthly budget saved.", role=role)


def log_on(channel: str) -> Text:
    return tr("✅ Finished images, refusals and safety blocks will be posted in {channel}.", channel=channel)


def log_cannot_post(channel: str, missing: Message) -> Text:
    return tr("I can't post in {channel}: I need {missing} there. Give me that permission, then try again.",
              channel=channel, missing=missing)


def rules_listing(rules: tuple[str, ...]) -> Message:
    """The private answer to `words action:list`, within one message (in any language: room is kept for it)."""
    if not rules:
        return NO_RULES
    heading = tr_n("**Blocked words** ({count}; `*` matches any letters inside a word):",
                   "**Blocked words** ({count}; `*` matches any letters inside a word):", len(rules))
    lines: list[Message] = [heading]
    used = HEADING_ROOM
    for index, rule in enumerate(rules):
        line = f"- {shown(rule)}"
        if used + len(line) + 1 + MORE_ROOM > LISTING_LIMIT:
            lines.append(tr_n("… and {count} more", "… and {count} more", len(rules) - index))
            break
        lines.append(line)
        used += len(line) + 1
    return join_lines(lines)


def missing_log_permissions(channel: discord.TextChannel) -> Message | None:
    """What the bot lacks to post in a log channel ("View Channel and Send Messages"), or None."""
    me = channel.guild.me
    permissions = channel.permissions_for(me)
    # Discord's own names for the permissions, as its client shows them in the member's language.
    missing = [name for name, has in ((tr("View Channel"), permissions.view_channel),
                                      (tr("Send Messages"), permissions.send_messages)) if not has]
    if len(missing) == 2:
        return tr("{first} and {second}", first=missing[0], second=missing[1])
    return missing[0] if missing else None
