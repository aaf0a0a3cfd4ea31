"""Budgets: per-member and per-server, daily and monthly, in exact micro-dollars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.core.costs import format_usd

Scope = Literal["member", "server"]
Period = Literal["day", "month"]


@dataclass(frozen=True)
class BudgetPolicy:
    """Limits in micro-dollars; None means no limit."""

    user_daily: int | None = None
    user_monthly: int | None = None
    guild_daily: int | None = None
    guild_monthly: int | None = None

    def overridden_by(self, other: BudgetPolicy) -> BudgetPolicy:
        """A server's own limits win where it set them; the bot-wide ones apply elsewhere."""
        return BudgetPolicy(
            user_daily=_pick(other.user_daily, self.user_daily),
            user_monthly=_pick(other.user_monthly, self.user_monthly),
            guild_daily=_pick(other.guild_daily, self.guild_daily),
            guild_monthly=_pick(other.guild_monthly, self.guild_monthly),
        )


@dataclass(frozen=True)
class BudgetLimit:
    scope: Scope
    period: Period
    subject_id: int  # the member's or the server's id
    limit: int
    since: datetime

    def refusal(self, spent: int, estimate: int) -> str:
        who = "your" if self.scope == "member" else "this server's"
        when = "daily" if self.period == "day" else "monthly"
        left = max(self.limit - spent, 0)
        return (
            f"This would go over {who} {when} image budget of {format_usd(self.limit)}: "
            f"{format_usd(spent)} is used and this image may cost up to {format_usd(estimate)} "
            f"({format_usd(left)} left). Try a lower quality or size, or wait for the budget to reset."
        )


def limits_for(policy: BudgetPolicy, *, user_id: int, guild_id: int | None, now: datetime) -> list[BudgetLimit]:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    candidates: list[tuple[Scope, Period, int | None, int | None, datetime]] = [
        ("member", "day", user_id, policy.user_daily, day),
        ("member", "month", user_id, policy.user_monthly, month),
        ("server", "day", guild_id, policy.guild_daily, day),
        ("server", "month", guild_id, policy.guild_monthly, month),
    ]
    return [
        BudgetLimit(scope, period, subject, limit, since)
        for scope, period, subject, limit, since in candidates
        if subject is not None and limit is not None
    ]


def _pick(preferred: int | None, fallback: int | None) -> int | None:
    return preferred if preferred is not None else fallback
