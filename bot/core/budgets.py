"""Budgets: per-member, per-server and for the whole bot, daily and monthly, in exact micro-dollars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.core.costs import format_usd
from bot.core.i18n import Text, tr, tr_n

Scope = Literal["member", "server", "bot"]
BOT_SUBJECT = 0  # the whole bot: every member, server and DM together
Period = Literal["day", "month"]


@dataclass(frozen=True)
class BudgetPolicy:
    """Limits in micro-dollars; None means no limit."""

    user_daily: int | None = None
    user_monthly: int | None = None
    guild_daily: int | None = None
    guild_monthly: int | None = None
    bot_daily: int | None = None
    bot_monthly: int | None = None

    def tightened_by(self, server: BudgetPolicy) -> BudgetPolicy:
        """A server's limits can only tighten the owner's: each limit is the smaller of the two.

        The bot-wide caps are the owner's alone. A member's own limit is counted over every server and DM, so a
        server that sets a generous one still cannot lift the owner's.
        """
        return BudgetPolicy(
            user_daily=_smaller(server.user_daily, self.user_daily),
            user_monthly=_smaller(server.user_monthly, self.user_monthly),
            guild_daily=_smaller(server.guild_daily, self.guild_daily),
            guild_monthly=_smaller(server.guild_monthly, self.guild_monthly),
            bot_daily=self.bot_daily,
            bot_monthly=self.bot_monthly,
        )


@dataclass(frozen=True)
class BudgetLimit:
    scope: Scope
    period: Period
    subject_id: int  # the member's or the server's id
    limit: int
    since: datetime

    def refusal(self, spent: int, estimate: int, *, images: int = 1) -> Text:
        if self.scope == "bot":
            # Members don't need the owner's totals: only that it is the bot's limit and when it resets.
            if self.period == "day":
                return tr("I've reached the daily spending limit my owner set for the whole bot, so I can't make "
                          "images until tomorrow (UTC). Nothing was charged.")
            return tr("I've reached the monthly spending limit my owner set for the whole bot, so I can't make "
                      "images until next month. Nothing was charged.")
        amounts = {"limit": format_usd(self.limit), "spent": format_usd(spent), "estimate": format_usd(estimate),
                   "left": format_usd(max(self.limit - spent, 0))}
        # /draw count: the refusal names the total of the variations ("these 3 images together").
        if self.scope == "member":
            if self.period == "day":
                return tr_n("This would go over your daily image budget of {limit}: {spent} is used and this image "
                            "may cost up to {estimate} ({left} left). Try a lower quality or size, or wait for the "
                            "budget to reset.",
                            "This would go over your daily image budget of {limit}: {spent} is used and these "
                            "{count} images together may cost up to {estimate} ({left} left). Try a lower quality "
                            "or size, or wait for the budget to reset.", images, **amounts)
            return tr_n("This would go over your monthly image budget of {limit}: {spent} is used and this image "
                        "may cost up to {estimate} ({left} left). Try a lower quality or size, or wait for the "
                        "budget to reset.",
                        "This would go over your monthly image budget of {limit}: {spent} is used and these "
                        "{count} images together may cost up to {estimate} ({left} left). Try a lower quality "
                        "or size, or wait for the budget to reset.", images, **amounts)
        if self.period == "day":
            return tr_n("This would go over this server's daily image budget of {limit}: {spent} is used and this "
                        "image may cost up to {estimate} ({left} left). Try a lower quality or size, or wait for the "
                        "budget to reset.",
                        "This would go over this server's daily image budget of {limit}: {spent} is used and these "
                        "{count} images together may cost up to {estimate} ({left} left). Try a lower quality or "
                        "size, or wait for the budget to reset.", images, **amounts)
        return tr_n("This would go over this server's monthly image budget of {limit}: {spent} is used and this "
                    "image may cost up to {estimate} ({left} left). Try a lower quality or size, or wait for the "
                    "budget to reset.",
                    "This would go over this server's monthly image budget of {limit}: {spent} is used and these "
                    "{count} images together may cost up to {estimate} ({left} left). Try a lower quality or size, "
                    "or wait for the budget to reset.", images, **amounts)


def limits_for(policy: BudgetPolicy, *, user_id: int, guild_id: int | None, now: datetime) -> list[BudgetLimit]:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    candidates: list[tuple[Scope, Period, int | None, int | None, datetime]] = [
        ("member", "day", user_id, policy.user_daily, day),
        ("member", "month", user_id, policy.user_monthly, month),
        ("server", "day", guild_id, policy.guild_daily, day),
        ("server", "month", guild_id, policy.guild_monthly, month),
        ("bot", "day", BOT_SUBJECT, policy.bot_daily, day),
        ("bot", "month", BOT_SUBJECT, policy.bot_monthly, month),
    ]
    return [
        BudgetLimit(scope, period, subject, limit, since)
        for scope, period, subject, limit, since in candidates
        if subject is not None and limit is not None
    ]


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
