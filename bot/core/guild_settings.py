"""Per-server settings (/threadpaint settings): the value, its JSON form and the rules that read it.

Pure: no Discord, no database. The cog edits these values, storage keeps them as JSON, and /draw and /edit ask
`access_problem` and `may_edit` before anything is paid for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeGuard

from bot.core.costs import MICROS, format_usd
from bot.core.errors import InvalidInput
from bot.core.i18n import Message, Text, tr, tr_n
from bot.core.options import FORMATS, QUALITIES, SIZES
from bot.core.wordlist import MAX_RULES, normalise

log = logging.getLogger(__name__)

EditPolicy = Literal["anyone", "starter"]  # anyone who can talk in the thread | its starter and moderators
Moderation = Literal["auto", "low"]
MODERATION_LEVELS: tuple[Moderation, ...] = ("auto", "low")
EDIT_POLICIES: tuple[EditPolicy, ...] = ("anyone", "starter")
MAX_PARTIAL_IMAGES = 3
# Keeps the settings summary inside one Discord message (2000 characters) and the access check cheap.
MAX_LISTED = 25
# Large enough for any real budget, small enough that sums of micro-dollars stay inside SQLite's 64-bit integers.
MAX_BUDGET_MICROS = 1_000_000 * MICROS
# What an admin may type: a server's budget only tightens the owner's (bot.core.budgets), so anything above
# this is a typo, not a plan.
MAX_SERVER_BUDGET_MICROS = 10_000 * MICROS
# How many allowed channels or roles a refusal names; the rest are counted, not listed.
MENTIONED_IN_REFUSAL = 5
ROLE_BUDGETS_SHOWN = 3  # in the settings summary; the rest are counted
_ONE_MICRO = Decimal(1) / MICROS
_SCOPES = {"member": "user", "server": "guild"}
BUDGET_FIELDS = ("user_daily_micros", "user_monthly_micros", "guild_daily_micros", "guild_monthly_micros")
ID_LIST_FIELDS = ("allowed_channel_ids", "allowed_role_ids", "spoiler_channel_ids")
# A role's own member budget: (role id, daily micro-dollars, monthly micro-dollars); None = not set for that period.
RoleBudget = tuple[int, int | None, int | None]


@dataclass(frozen=True)
class GuildSettings:
    allowed_channel_ids: frozenset[int] = frozenset()  # empty = every channel
    allowed_role_ids: frozenset[int] = frozenset()  # empty = everyone
    default_size: str | None = None  # None = "auto"; values as in bot.core.options.SIZES
    default_quality: str | None = None  # None = "auto"
    default_format: str | None = None  # None = "png"
    moderation: Moderation = "auto"
    partial_images: int | None = None  # None = the bot's PARTIAL_IMAGES; 0..3
    edit_policy: EditPolicy = "anyone"
    # "Edit image" on another member's message; own messages and the bot's results are always allowed.
    edit_others_images: bool = False
    user_daily_micros: int | None = None  # budgets in micro-dollars; None = the bot-wide default
    user_monthly_micros: int | None = None
    guild_daily_micros: int | None = None
    guild_monthly_micros: int | None = None
    # Rules of bot.core.wordlist, stored normalised, in the order they were added.
    blocked_words: tuple[str, ...] = ()
    spoiler: bool = False  # every result on the server is posted as a spoiler
    spoiler_channel_ids: frozenset[int] = frozenset()  # ... or only in these channels (and their threads)
    spoiler_age_restricted: bool = False  # ... and always in channels Discord marks age-restricted
    role_budgets: tuple[RoleBudget, ...] = ()  # sorted by role id; the member's most generous role applies
    log_channel_id: int | None = None  # finished images, refusals and safety blocks are posted here

    def __post_init__(self) -> None:
        # Fail where a bad value is made, not later inside /draw: every field has one check in _VALID.
        for name, check in _VALID.items():
            if not check(getattr(self, name)):
                raise ValueError(f"invalid guild setting {name}={getattr(self, name)!r}")

    def to_json(self) -> str:
        data = asdict(self)
        data["allowed_channel_ids"] = sorted(self.allowed_channel_ids)
        data["allowed_role_ids"] = sorted(self.allowed_role_ids)
        data["spoiler_channel_ids"] = sorted(self.spoiler_channel_ids)
        data["blocked_words"] = list(self.blocked_words)
        data["role_budgets"] = [list(entry) for entry in self.role_budgets]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GuildSettings:
        """Parse a stored row. Unknown keys (a newer version) are ignored, missing ones take their defaults.

        A key with an unusable value is dropped with a warning rather than failing: a hand-edited or older row
        must not make /draw unusable on the whole server, and the other settings keep applying.
        Raises ValueError only when the text is not a JSON object at all.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("guild settings must be a JSON object")
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in data:
                continue
            value = _decode(field.name, data[field.name])
            if _VALID[field.name](value):
                values[field.name] = value
            else:
                log.warning("ignoring stored guild setting %s=%r", field.name, data[field.name])
        return cls(**values)


def _decode(name: str, value: Any) -> Any:
    """JSON has lists, not sets or tuples; anything of the wrong shape is left for the validity check to reject."""
    if not isinstance(value, list):
        return value
    if name in ID_LIST_FIELDS and all(_is_int(v) for v in value):
        return frozenset(value)
    if name == "blocked_words":
        return tuple(value)
    if name == "role_budgets" and all(isinstance(v, list) for v in value):
        return tuple(tuple(v) for v in value)
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)  # bool is an int subclass; True is no id


def _ids(value: object) -> bool:
    return isinstance(value, frozenset) and len(value) <= MAX_LISTED and all(_is_int(v) and v > 0 for v in value)


def _rules(value: object) -> bool:
    if not isinstance(value, tuple) or len(value) > MAX_RULES or len(set(value)) != len(value):
        return False
    try:
        return all(isinstance(rule, str) and normalise(rule) == rule for rule in value)
    except InvalidInput:
        return False


def _role_budgets(value: object) -> bool:
    if not isinstance(value, tuple) or len(value) > MAX_LISTED:
        return False
    budget = _optional_int(MAX_BUDGET_MICROS)
    for entry in value:
        if not (isinstance(entry, tuple) and len(entry) == 3 and _is_int(entry[0]) and entry[0] > 0):
            return False
        if not (budget(entry[1]) and budget(entry[2])) or entry[1:] == (None, None):
            return False
    role_ids = [entry[0] for entry in value]
    return role_ids == sorted(set(role_ids))


def _choice(allowed: tuple[str, ...]) -> Callable[[object], bool]:
    return lambda value: value is None or value in allowed


def _optional_int(high: int) -> Callable[[object], bool]:
    return lambda value: value is None or (_is_int(value) and 0 <= value <= high)


_VALID: dict[str, Callable[[object], bool]] = {
    "allowed_channel_ids": _ids,
    "allowed_role_ids": _ids,
    "default_size": _choice(SIZES),
    "default_quality": _choice(QUALITIES),
    "default_format": _choice(FORMATS),
    "moderation": lambda value: value in MODERATION_LEVELS,
    "partial_images": _optional_int(MAX_PARTIAL_IMAGES),
    "edit_policy": lambda value: value in EDIT_POLICIES,
    "edit_others_images": lambda value: isinstance(value, bool),
    "blocked_words": _rules,
    "spoiler": lambda value: isinstance(value, bool),
    "spoiler_channel_ids": _ids,
    "spoiler_age_restricted": lambda value: isinstance(value, bool),
    "role_budgets": _role_budgets,
    "log_channel_id": lambda value: value is None or (_is_int(value) and value > 0),
    **dict.fromkeys(BUDGET_FIELDS, _optional_int(MAX_BUDGET_MICROS)),
}


# ---------------------------------------------------------------------------------------------- the rules


def access_problem(
    s: GuildSettings,
    *,
    channel_id: int,
    parent_channel_id: int | None,
    role_ids: Collection[int],
    is_manager: bool,
) -> Text | None:
    """Why this member can't use the bot here (one sentence), or None when they can.

    A thread is allowed when its parent channel is. Managers (Manage Server) pass the role check so they can't
    lock themselves out, but not the channel check: the channel list is about where images appear, for everyone.
    """
    allowed = s.allowed_channel_ids
    if allowed and channel_id not in allowed and parent_channel_id not in allowed:
        return tr("On this server I only draw in {channels}.", channels=_mentions(allowed, "<#{}>"))
    if s.allowed_role_ids and not is_manager and s.allowed_role_ids.isdisjoint(role_ids):
        return tr("On this server only members with {roles} can use me.",
                  roles=_mentions(s.allowed_role_ids, "<@&{}>", "or"))
    return None


def may_edit(s: GuildSettings, *, owner_id: int | None, user_id: int, is_moderator: bool) -> bool:
    """Whether this member may /edit a conversation; is_moderator (Manage Threads/Messages) is the caller's call."""
    if s.edit_policy == "anyone":
        return True
    return user_id == owner_id or is_moderator


def _mentions(ids: Collection[int], template: str, joiner: str = "and") -> Message:
    ordered = sorted(ids)
    shown = [template.format(i) for i in ordered[:MENTIONED_IN_REFUSAL]]
    hidden = len(ordered) - len(shown)
    either = joiner == "or"
    if hidden:
        items = ", ".join(shown)
        return (tr_n("{items} or {count} more", "{items} or {count} more", hidden, items=items) if either else
                tr_n("{items} and {count} more", "{items} and {count} more", hidden, items=items))
    if len(shown) == 1:
        return shown[0]
    parts = {"items": ", ".join(shown[:-1]), "last": shown[-1]}
    return tr("{items} or {last}", **parts) if either else tr("{items} and {last}", **parts)


# ---------------------------------------------------------------------------------------------- editing helpers


def parse_dollars(text: str) -> int | None:
    """A budget typed by an admin → micro-dollars; "none" → None (the bot-wide default). Raises InvalidInput.

    Decimal, never float, so "0.10" is exactly 100000 micro-dollars.
    """
    cleaned = text.strip().removeprefix("$").strip()
    if cleaned.lower() in ("none", "default"):
        return None
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        # The text is not echoed: it can be any length, and a reply over 2000 characters would fail.
        raise InvalidInput(tr(
            "That is not an amount; type dollars like 5 or 2.50, or none for the bot-wide default."
        )) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(tr("A budget must be zero or more dollars (0 stops all spending)."))
    # Compare before any arithmetic: "1e999999" would overflow the decimal context, "1e-999999999" round to 0.
    if amount > Decimal(MAX_SERVER_BUDGET_MICROS) / MICROS:
        raise InvalidInput(tr("A budget can be at most {limit}.", limit=format_usd(MAX_SERVER_BUDGET_MICROS)))
    whole_micros = amount.quantize(_ONE_MICRO)
    if whole_micros != amount:
        raise InvalidInput(tr("A budget can't be finer than a millionth of a dollar."))
    return int(whole_micros * MICROS)


def budget_field(scope: Literal["member", "server"], period: Literal["daily", "monthly"]) -> str:
    """The GuildSettings field a /threadpaint settings budget command changes; ValueError for anything else."""
    name = f"{_SCOPES.get(scope)}_{period}_micros"
    if name not in BUDGET_FIELDS:
        raise ValueError(f"no budget for scope {scope!r} and period {period!r}")
    return name


def summary_lines(s: GuildSettings, *, bot_partial_images: int, bot_budgets: Mapping[str, int | None]) -> list[Text]:
    """What the settings commands show after every change; bot_budgets maps BUDGET_FIELDS to the bot-wide values."""
    return [
        tr("**Channels:** {channels}", channels=_listed(s.allowed_channel_ids, "<#{}>", tr("every channel"))),
        tr("**Roles:** {roles}", roles=_listed(s.allowed_role_ids, "<@&{}>", tr("everyone"))),
        tr("**Defaults:** size {size}, quality {quality}, format {format}", size=s.default_size or "auto",
           quality=s.default_quality or "auto", format=s.default_format or "png"),
        tr("**Moderation:** {level}", level=s.moderation),
        tr("**Previews:** {count}", count=_or_default(s.partial_images, str(bot_partial_images), str)),
        tr("**Editing:** {rule}", rule=tr("anyone in the thread") if s.edit_policy == "anyone" else
           tr("the starter and moderators")),
        tr("**Edit image:** {rule}", rule=tr("any message") if s.edit_others_images else
           tr("own messages and my results")),
        tr("**Member budget:** {budget}", budget=_budget_text(s, "user", bot_budgets)),
        tr("**Server budget:** {budget}", budget=_budget_text(s, "guild", bot_budgets)),
        tr("**Role budgets:** {budgets}", budgets=_role_budgets_text(s, bot_budgets)),
        tr("**Blocked words:** {rules}", rules=_rules_text(s)),
        tr("**Spoilers:** {rule}", rule=_spoiler_text(s)),
        tr("**Log channel:** {channel}", channel=f"<#{s.log_channel_id}>" if s.log_channel_id else tr("off")),
    ]


def spoilered(s: GuildSettings, *, channel_id: int, parent_channel_id: int | None, age_restricted: bool) -> bool:
    """Whether a result posted here goes out as a spoiler; a thread follows its parent channel's setting."""
    if s.spoiler or (s.spoiler_age_restricted and age_restricted):
        return True
    return bool({channel_id, parent_channel_id} & s.spoiler_channel_ids)


def _role_budgets_text(s: GuildSettings, bot_budgets: Mapping[str, int | None]) -> Message:
    if not s.role_budgets:
        return tr("none (every member has the member budget)")
    parts: list[Message] = []
    # Only a few are spelled out: with 25 channels and 25 roles listed too, the summary must stay one message.
    for role, daily, monthly in s.role_budgets[:ROLE_BUDGETS_SHOWN]:
        limits = [
            _capped(value, bot_budgets.get(field), unit)
            for value, field, unit in ((daily, "user_daily_micros", "day"), (monthly, "user_monthly_micros", "month"))
            if value is not None
        ]
        parts.append(tr("{role} {daily} and {monthly}", role=f"<@&{role}>", daily=limits[0], monthly=limits[1])
                     if len(limits) == 2 else tr("{role} {limit}", role=f"<@&{role}>", limit=limits[0]))
    listed = _joined(parts, "; ")
    hidden = len(s.role_budgets) - len(parts)
    if hidden:
        return tr_n("{budgets} and {count} more (a member gets their most generous role's)",
                    "{budgets} and {count} more (a member gets their most generous role's)", hidden, budgets=listed)
    return tr("{budgets} (a member gets their most generous role's)", budgets=listed)


def _joined(parts: list[Message], separator: str) -> Message:
    # One Text holding every part, so each renders in the reader's language.
    names = [f"part{i}" for i in range(len(parts))]
    return Text(separator.join("{" + name + "}" for name in names), dict(zip(names, parts, strict=True)))


def _capped(value: int, owner: int | None, unit: str) -> Text:
    if owner is not None and owner < value:
        if unit == "day":
            return tr("{amount} a day (the bot's limit)", amount=format_usd(owner))
        return tr("{amount} a month (the bot's limit)", amount=format_usd(owner))
    return tr("{amount} a day", amount=format_usd(value)) if unit == "day" else tr("{amount} a month",
                                                                                    amount=format_usd(value))


def _rules_text(s: GuildSettings) -> Message:
    count = len(s.blocked_words)
    if not count:
        return tr("none")
    return tr_n("{count} rule (`/threadpaint settings words action:list` shows them)",
                "{count} rules (`/threadpaint settings words action:list` shows them)", count)


def _spoiler_text(s: GuildSettings) -> Message:
    if s.spoiler:
        return tr("every result on this server")
    channels = tr("results in {channels}", channels=_mentions(s.spoiler_channel_ids, "<#{}>")) \
        if s.spoiler_channel_ids else None
    aged = tr("results in age-restricted channels") if s.spoiler_age_restricted else None
    if channels is not None and aged is not None:
        return tr("{first} and {second}", first=channels, second=aged)
    return channels or aged or tr("off")


def _listed(ids: frozenset[int], template: str, empty: Text) -> Message:
    return ", ".join(template.format(i) for i in sorted(ids)) if ids else empty


def _or_default(value: int | None, default: Message, show: Callable[[int], str]) -> Message:
    return show(value) if value is not None else tr("{value} (bot default)", value=default)


def _money(micros: int | None) -> Message:
    return tr("unlimited") if micros is None else format_usd(micros)


def _budget_text(s: GuildSettings, who: str, bot_budgets: Mapping[str, int | None]) -> Text:
    parts: dict[str, Text] = {}
    for period in ("daily", "monthly"):
        name = f"{who}_{period}_micros"
        value: int | None = getattr(s, name)
        owner = bot_budgets.get(name)
        if value is not None and owner is not None and owner < value:
            # A server's budget only tightens the owner's: say which one applies.
            amounts = {"amount": format_usd(owner), "server": format_usd(value)}
            parts[period] = (
                tr("{amount} a day (the bot's limit; this server's {server} can't raise it)", **amounts)
                if period == "daily" else
                tr("{amount} a month (the bot's limit; this server's {server} can't raise it)", **amounts)
            )
            continue
        amount = _or_default(value, _money(owner), format_usd)
        parts[period] = tr("{amount} a day", amount=amount) if period == "daily" else tr("{amount} a month",
                                                                                          amount=amount)
    return tr("{daily}, {monthly}", **parts)
