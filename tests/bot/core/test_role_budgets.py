"""Budgets per role: the most generous of a member's roles, else the server's member budget; never above the owner."""

import pytest

from bot.core.budgets import BudgetPolicy
from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings, spoilered, summary_lines
from bot.core.role_budgets import member_limits, policy_for, with_role_budget

SUPPORTER, PATRON, NEWCOMER = 11, 12, 13
SERVER = GuildSettings(
    user_daily_micros=1_000_000, user_monthly_micros=10_000_000,
    role_budgets=((SUPPORTER, 3_000_000, None), (PATRON, 5_000_000, 40_000_000), (NEWCOMER, 100_000, None)),
)


def test_no_budgeted_role_gets_the_member_budget() -> None:
    assert member_limits(SERVER, {99}) == (1_000_000, 10_000_000)


def test_the_most_generous_role_wins_per_period() -> None:
    assert member_limits(SERVER, {SUPPORTER}) == (3_000_000, 10_000_000)  # no monthly of its own
    assert member_limits(SERVER, {SUPPORTER, PATRON, NEWCOMER}) == (5_000_000, 40_000_000)
    assert member_limits(SERVER, {NEWCOMER}) == (100_000, 10_000_000)  # a role may also be tighter


def test_the_owner_caps_still_apply() -> None:
    owner = BudgetPolicy(user_daily=2_000_000, user_monthly=None, bot_daily=5_000_000)
    effective = owner.tightened_by(policy_for(SERVER, {PATRON}))
    assert (effective.user_daily, effective.user_monthly, effective.bot_daily) == (2_000_000, 40_000_000, 5_000_000)


def test_with_role_budget_sets_and_clears() -> None:
    s = with_role_budget(GuildSettings(), 7, "daily", 2_000_000, "<@&7>")
    s = with_role_budget(s, 3, "monthly", 9_000_000, "<@&3>")
    assert s.role_budgets == ((3, None, 9_000_000), (7, 2_000_000, None))
    s = with_role_budget(s, 7, "daily", None, "<@&7>")
    assert s.role_budgets == ((3, None, 9_000_000),)  # nothing left for role 7: gone
    with pytest.raises(InvalidInput, match="<@&7> has no daily budget"):
        with_role_budget(s, 7, "daily", None, "<@&7>")
    assert GuildSettings.from_json(s.to_json()) == s


def test_summary_names_role_budgets_and_the_owner_cap() -> None:
    lines = summary_lines(SERVER, bot_partial_images=2, bot_budgets={"user_daily_micros": 4_000_000})
    assert str(lines[9]) == (
        f"**Role budgets:** <@&{SUPPORTER}> $3.00 a day; <@&{PATRON}> $4.00 a day (the bot's limit) and "
        f"$40.00 a month; <@&{NEWCOMER}> $0.100 a day (a member gets their most generous role's)"
    )


def test_spoilered() -> None:
    assert not spoilered(GuildSettings(), channel_id=1, parent_channel_id=None, age_restricted=True)
    assert spoilered(GuildSettings(spoiler=True), channel_id=1, parent_channel_id=None, age_restricted=False)
    in_channel = GuildSettings(spoiler_channel_ids=frozenset({5}))
    assert spoilered(in_channel, channel_id=5, parent_channel_id=None, age_restricted=False)
    assert spoilered(in_channel, channel_id=6, parent_channel_id=5, age_restricted=False)  # a thread of it
    assert not spoilered(in_channel, channel_id=6, parent_channel_id=None, age_restricted=False)
    nsfw = GuildSettings(spoiler_age_restricted=True)
    assert spoilered(nsfw, channel_id=6, parent_channel_id=None, age_restricted=True)
    assert not spoilered(nsfw, channel_id=6, parent_channel_id=None, age_restricted=False)
