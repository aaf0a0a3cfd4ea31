"""Budgets per role: a server gives some roles their own member limits (supporters get more per day, say).

Pure. A member with budgeted roles gets the most generous of those roles' limits, period by period, instead of the
server's member budget; a member without one gets the server's. Either way the result then only tightens the
owner's caps (bot.core.budgets.BudgetPolicy.tightened_by), so no role lifts a member above them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Literal

from bot.core.budgets import BudgetPolicy
from bot.core.errors import InvalidInput
from bot.core.guild_settings import MAX_LISTED, GuildSettings, RoleBudget
from bot.core.i18n import tr, tr_n

Period = Literal["daily", "monthly"]

# Member-facing text: catalogue messages, rendered in the member's language at the Discord edge.
TOO_MANY_ROLES = tr_n("At most {count} role can have its own budget; remove one first.",
                      "At most {count} roles can have their own budget; remove one first.", MAX_LISTED)


def member_limits(server: GuildSettings, role_ids: Collection[int]) -> tuple[int | None, int | None]:
    """The member's (daily, monthly) limit on this server before the owner's caps; None = no server limit."""
    daily = _most_generous([d for role, d, _ in server.role_budgets if role in role_ids and d is not None])
    monthly = _most_generous([m for role, _, m in server.role_budgets if role in role_ids and m is not None])
    return (
        server.user_daily_micros if daily is None else daily,
        server.user_monthly_micros if monthly is None else monthly,
    )


def policy_for(server: GuildSettings, role_ids: Collection[int]) -> BudgetPolicy:
    """The server's limits for this member, to be tightened into the owner's (ImageService.admit does that)."""
    daily, monthly = member_limits(server, role_ids)
    return BudgetPolicy(
        user_daily=daily,
        user_monthly=monthly,
        guild_daily=server.guild_daily_micros,
        guild_monthly=server.guild_monthly_micros,
    )


def with_role_budget(server: GuildSettings, role_id: int, period: Period, micros: int | None, mention: str
                     ) -> GuildSettings:
    """Set (micros) or clear (None) one role's daily or monthly limit. Raises InvalidInput."""
    current = {role: (daily, monthly) for role, daily, monthly in server.role_budgets}
    daily, monthly = current.get(role_id, (None, None))
    if micros is None and (daily if period == "daily" else monthly) is None:
        raise InvalidInput(tr("{role} has no daily budget of its own.", role=mention) if period == "daily" else
                           tr("{role} has no monthly budget of its own.", role=mention))
    if period == "daily":
        daily = micros
    else:
        monthly = micros
    if role_id not in current and len(current) >= MAX_LISTED:
        raise InvalidInput(TOO_MANY_ROLES)
    current[role_id] = (daily, monthly)
    entries: tuple[RoleBudget, ...] = tuple(
        (role, d, m) for role, (d, m) in sorted(current.items()) if (d, m) != (None, None)
    )
    return dataclasses.replace(server, role_budgets=entries)


def _most_generous(limits: list[int]) -> int | None:
    return max(limits) if limits else None
