"""Budgets per role end to end: set by managers, the most generous of a member's roles, never above the owner."""

from __future__ import annotations

from tests.cogs.test_settings import add_role, role_option, settings, stored
from tests.fakes.discord_state import MEMBER_PERMISSIONS, FakeInteraction
from tests.harness import Harness, RunningBot

ONE_CENT = "0.01"


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def draw_as(harness: Harness, running: RunningBot, user_id: int) -> FakeInteraction:
    return await harness.command(running, "draw", {"prompt": "a lantern", "quality": "low"}, user_id=user_id)


def over_budget(harness: Harness, interaction: FakeInteraction, limit: str) -> bool:
    text = harness.discord.messages[interaction.original_message_id].content
    return interaction.ephemeral and f"This would go over your daily image budget of {limit}" in text


async def test_a_roles_budget_lifts_its_members_above_the_member_budget(harness: Harness) -> None:
    fd = harness.discord
    supporters, newcomers = add_role(harness, "supporters"), add_role(harness, "newcomers")
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="100")
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    await settings(harness, running, "budget", {"scope": "member", "period": "daily", "dollars": ONE_CENT})
    text = await settings(harness, running, "role-budget",
                          {"role": role_option(supporters), "period": "daily", "dollars": "5"})
    assert text.startswith(f"✅ <@&{supporters}>'s daily budget saved.")
    assert f"**Role budgets:** <@&{supporters}> $5.00 a day (a member gets their most generous role's)" in text
    await settings(harness, running, "role-budget", {"role": role_option(newcomers), "period": "daily",
                                                     "dollars": ONE_CENT})
    budgets = {role: (daily, monthly) for role, daily, monthly in (await stored(running)).role_budgets}
    assert budgets == {supporters: (5_000_000, None), newcomers: (10_000, None)}

    plain = await draw_as(harness, running, fd.other_user_id)  # no role: the server's member budget
    assert over_budget(harness, plain, "$0.010")
    fd.member_roles[fd.other_user_id] = [newcomers, supporters]  # the most generous of the two applies
    lifted = await draw_as(harness, running, fd.other_user_id)
    assert not lifted.ephemeral and len(posts(harness)) == 1
    fd.member_roles[fd.other_user_id] = [newcomers]
    assert over_budget(harness, await draw_as(harness, running, fd.other_user_id), "$0.010")
    assert len(posts(harness)) == 1


async def test_a_role_never_goes_above_the_owners_cap(harness: Harness) -> None:
    fd = harness.discord
    supporters = add_role(harness, "supporters")
    running = await harness.start_bot(BUDGET_USER_DAILY_USD=ONE_CENT)
    fd.member_roles[fd.other_user_id] = [supporters]
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    text = await settings(harness, running, "role-budget",
                          {"role": role_option(supporters), "period": "daily", "dollars": "5"})
    assert (f"**Role budgets:** <@&{supporters}> $0.010 a day (the bot's limit) "
            "(a member gets their most generous role's)") in text
    assert over_budget(harness, await draw_as(harness, running, fd.other_user_id), "$0.010")
    assert posts(harness) == []


async def test_role_budgets_survive_a_restart_and_can_be_removed(harness: Harness) -> None:
    fd = harness.discord
    supporters = add_role(harness, "supporters")
    first = await harness.start_bot(BUDGET_USER_DAILY_USD="100")
    await settings(harness, first, "budget", {"scope": "member", "period": "daily", "dollars": ONE_CENT})
    await settings(harness, first, "role-budget", {"role": role_option(supporters), "period": "daily",
                                                   "dollars": "2.50"})
    await harness.stop_bot(first)

    running = await harness.start_bot(BUDGET_USER_DAILY_USD="100")
    fd.member_roles[fd.other_user_id] = [supporters]
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    assert not (await draw_as(harness, running, fd.other_user_id)).ephemeral
    text = await settings(harness, running, "role-budget",
                          {"role": role_option(supporters), "period": "daily", "dollars": "none"})
    assert "**Role budgets:** none (every member has the member budget)" in text
    assert (await stored(running)).role_budgets == ()
    assert over_budget(harness, await draw_as(harness, running, fd.other_user_id), "$0.010")
    text = await settings(harness, running, "role-budget",
                          {"role": role_option(supporters), "period": "monthly", "dollars": "none"})
    assert text.startswith(f"❌ <@&{supporters}> has no monthly budget of its own.")
    text = await settings(harness, running, "role-budget",
                          {"role": role_option(fd.guild_id), "period": "daily", "dollars": "5"})
    assert text.startswith("❌ Every member has @everyone; use `budget scope:member` to set everyone's limit.")
