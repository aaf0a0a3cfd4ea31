"""Per-server settings: JSON round trip, tolerant parsing, the access and editing rules, budget parsing."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import InvalidInput
from bot.core.guild_settings import (
    BUDGET_FIELDS,
    MAX_BUDGET_MICROS,
    MAX_LISTED,
    GuildSettings,
    access_problem,
    budget_field,
    may_edit,
    parse_dollars,
    summary_lines,
)
from bot.core.options import FORMATS, QUALITIES, SIZES

ids = st.frozensets(st.integers(1, 2**63 - 1), max_size=MAX_LISTED)
budgets = st.none() | st.integers(0, MAX_BUDGET_MICROS)
settings_strategy = st.builds(
    GuildSettings,
    allowed_channel_ids=ids,
    allowed_role_ids=ids,
    default_size=st.none() | st.sampled_from(SIZES),
    default_quality=st.none() | st.sampled_from(QUALITIES),
    default_format=st.none() | st.sampled_from(FORMATS),
    moderation=st.sampled_from(["auto", "low"]),
    partial_images=st.none() | st.integers(0, 3),
    edit_policy=st.sampled_from(["anyone", "starter"]),
    user_daily_micros=budgets,
    user_monthly_micros=budgets,
    guild_daily_micros=budgets,
    guild_monthly_micros=budgets,
    blocked_words=st.lists(st.from_regex(r"[a-z]{1,8}(\*[a-z]{1,8})?", fullmatch=True), max_size=5,
                           unique=True).map(tuple),
    spoiler=st.booleans(),
    spoiler_channel_ids=ids,
    spoiler_age_restricted=st.booleans(),
    log_channel_id=st.none() | st.integers(1, 2**63 - 1),
    role_budgets=st.dictionaries(st.integers(1, 2**63 - 1), st.tuples(budgets, st.integers(0, MAX_BUDGET_MICROS)),
                                 max_size=MAX_LISTED).map(lambda d: tuple((r, *d[r]) for r in sorted(d))),
)


@given(settings_strategy)
def test_json_round_trip(settings: GuildSettings) -> None:
    assert GuildSettings.from_json(settings.to_json()) == settings


def test_defaults_serialise_and_parse() -> None:
    assert GuildSettings.from_json("{}") == GuildSettings()
    assert GuildSettings.from_json(GuildSettings().to_json()) == GuildSettings()


def test_unknown_keys_are_ignored_and_missing_keys_default() -> None:
    parsed = GuildSettings.from_json(json.dumps({"moderation": "low", "from_the_future": [1, 2]}))
    assert parsed == GuildSettings(moderation="low")


def test_a_bad_value_is_dropped_but_the_rest_still_applies() -> None:
    parsed = GuildSettings.from_json(json.dumps({
        "allowed_channel_ids": [5, 6], "moderation": "none-at-all", "partial_images": 9,
        "allowed_role_ids": [1, True], "user_daily_micros": -1, "default_size": "999x999",
    }))
    assert parsed == GuildSettings(allowed_channel_ids=frozenset({5, 6}))


def test_non_object_json_raises_value_error() -> None:
    for text in ("[]", "null", "not json"):
        with pytest.raises(ValueError):
            GuildSettings.from_json(text)


def test_invalid_values_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="partial_images"):
        GuildSettings(partial_images=4)
    with pytest.raises(ValueError, match="edit_policy"):
        GuildSettings(edit_policy="nobody")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allowed_channel_ids"):
        GuildSettings(allowed_channel_ids=frozenset(range(1, MAX_LISTED + 2)))


# ---------------------------------------------------------------------------------------------- access


def problem(s: GuildSettings, channel: int = 10, parent: int | None = None, roles: tuple[int, ...] = (),
            manager: bool = False) -> str | None:
    found = access_problem(s, channel_id=channel, parent_channel_id=parent, role_ids=roles, is_manager=manager)
    return None if found is None else str(found)  # the English text; tests/bot/discord_adapter renders others


def test_no_restrictions_allow_everyone_everywhere() -> None:
    assert problem(GuildSettings()) is None


def test_channel_list_allows_listed_channels_and_their_threads() -> None:
    s = GuildSettings(allowed_channel_ids=frozenset({10}))
    assert problem(s, channel=10) is None
    assert problem(s, channel=99, parent=10) is None
    message = problem(s, channel=11, parent=12)
    assert message == "On this server I only draw in <#10>."


def test_managers_pass_the_role_check_but_not_the_channel_check() -> None:
    s = GuildSettings(allowed_channel_ids=frozenset({10}), allowed_role_ids=frozenset({7}))
    assert problem(s, channel=10, manager=True) is None
    assert problem(s, channel=11, manager=True) is not None
    assert problem(s, channel=10, roles=(7,)) is None
    assert problem(s, channel=10, roles=(8,)) == "On this server only members with <@&7> can use me."


def test_refusal_names_at_most_five_channels() -> None:
    s = GuildSettings(allowed_channel_ids=frozenset(range(1, 9)))
    message = problem(s, channel=100)
    assert message == "On this server I only draw in <#1>, <#2>, <#3>, <#4>, <#5> and 3 more."
    two = problem(GuildSettings(allowed_channel_ids=frozenset({1, 2})), channel=100)
    assert two == "On this server I only draw in <#1> and <#2>."


# ---------------------------------------------------------------------------------------------- editing


@pytest.mark.parametrize(
    ("policy", "user", "moderator", "expected"),
    [
        ("anyone", 2, False, True),
        ("starter", 1, False, True),
        ("starter", 2, True, True),
        ("starter", 2, False, False),
    ],
)
def test_may_edit(policy: str, user: int, moderator: bool, expected: bool) -> None:
    s = GuildSettings(edit_policy=policy)  # type: ignore[arg-type]
    assert may_edit(s, owner_id=1, user_id=user, is_moderator=moderator) is expected


def test_starter_policy_without_a_known_owner_leaves_it_to_moderators() -> None:
    s = GuildSettings(edit_policy="starter")
    assert not may_edit(s, owner_id=None, user_id=2, is_moderator=False)


# ---------------------------------------------------------------------------------------------- budgets


@pytest.mark.parametrize(
    ("text", "micros"),
    [("5", 5_000_000), ("2.50", 2_500_000), ("$0.10", 100_000), (" 0 ", 0), ("0.000001", 1), ("1e3", 10**9),
     ("none", None), ("None", None)],
)
def test_parse_dollars(text: str, micros: int | None) -> None:
    assert parse_dollars(text) == micros


@pytest.mark.parametrize(
    ("text", "reason"),
    [("abc", "not an amount"), ("", "not an amount"), ("-1", "zero or more"), ("NaN", "zero or more"),
     ("Infinity", "zero or more"), ("0.0000001", "millionth"), ("1e-999999999", "millionth"),
     ("1e999999999", "at most"), ("10000.01", "at most"), ("1000000", "at most"), ("1,5", "not an amount")],
)
def test_parse_dollars_refuses_garbage(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_dollars(text)


@given(st.decimals(min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False))
def test_parse_dollars_is_exact(amount: Decimal) -> None:
    assert parse_dollars(str(amount)) == int(amount * 1_000_000)


def test_budget_fields() -> None:
    assert budget_field("member", "daily") == "user_daily_micros"
    assert budget_field("server", "monthly") == "guild_monthly_micros"
    assert {budget_field(sc, p) for sc in ("member", "server") for p in ("daily", "monthly")} == set(BUDGET_FIELDS)


def test_summary_shows_values_and_bot_defaults() -> None:
    s = GuildSettings(allowed_channel_ids=frozenset({3}), default_quality="high", partial_images=0,
                      edit_policy="starter", guild_monthly_micros=25_000_000)
    lines = summary_lines(s, bot_partial_images=2, bot_budgets={"user_daily_micros": 1_000_000})
    assert [str(line) for line in lines] == [
        "**Channels:** <#3>",
        "**Roles:** everyone",
        "**Defaults:** size auto, quality high, format png",
        "**Moderation:** auto",
        "**Previews:** 0",
        "**Editing:** the starter and moderators",
        "**Edit image:** own messages and my results",
        "**Member budget:** $1.00 (bot default) a day, unlimited (bot default) a month",
        "**Server budget:** unlimited (bot default) a day, $25.00 a month",
        "**Role budgets:** none (every member has the member budget)",
        "**Blocked words:** none",
        "**Spoilers:** off",
        "**Log channel:** off",
    ]
