"""/usage end to end: a member's own spend; Manage Server adds the server's total and top spenders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cogs.usage import periods
from tests.bot.storage.test_privacy import add_turn
from tests.fakes import discord_state as s
from tests.fakes.discord_state import FakeInteraction
from tests.harness import Harness, RunningBot

NOW = datetime(2026, 5, 17, 15, 30, tzinfo=UTC)
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3


async def usage_as(harness: Harness, running: RunningBot, user_id: int, permissions: int) -> FakeInteraction:
    """/usage from a member with exactly these permissions (the fake gives everyone all of them by default)."""
    fd = harness.discord
    inter = fd.interaction_routes.build_slash(
        "usage", None, channel_id=None, user_id=user_id, guild=True, attachments=None, subcommand=None,
        app_permissions=None, locale="en-US", attachment_size_limit=None,
    )
    inter.payload["member"]["permissions"] = str(permissions)
    await fd.dispatch("INTERACTION_CREATE", inter.payload)
    await running.tracker.wait(inter.id)
    return inter


def fields_of(harness: Harness, inter: FakeInteraction) -> dict[str, Any]:
    message = harness.discord.messages[inter.original_message_id]  # type: ignore[index]
    assert message.ephemeral  # spend is private
    [embed] = message.embeds
    return {f["name"]: f["value"] for f in embed["fields"]}


async def seed(harness: Harness, running: RunningBot) -> None:
    fd = harness.discord
    store = running.store
    alice, bob = fd.user_id, fd.other_user_id
    await add_turn(store, user_id=alice, chain_id=100, guild_id=fd.guild_id, cost_micros=42_000, created_at=NOW)
    await add_turn(store, user_id=alice, chain_id=100, guild_id=fd.guild_id, cost_micros=1_000_000,
                   created_at=NOW - timedelta(days=3))  # this month, not today
    await add_turn(store, user_id=alice, chain_id=100, guild_id=fd.guild_id, cost_micros=5_000_000,
                   created_at=datetime(2026, 4, 30, 23, 59, tzinfo=UTC))  # last month
    await add_turn(store, user_id=alice, chain_id=100, guild_id=fd.guild_id, status="failed",
                   cost_micros=9_000_000, created_at=NOW)  # failed: free
    await add_turn(store, user_id=alice, chain_id=300, guild_id=None, cost_micros=8_000,
                   created_at=NOW)  # in a DM: hers, not the server's
    await add_turn(store, user_id=bob, chain_id=200, guild_id=fd.guild_id, cost_micros=2_500_000,
                   created_at=NOW - timedelta(hours=1))


async def test_member_sees_only_their_own_spend(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    running.bot.clock = lambda: NOW
    await seed(harness, running)

    inter = await usage_as(harness, running, fd.user_id, s.PERMISSIONS["send_messages"])

    assert fields_of(harness, inter) == {"Today": "$0.050", "May 2026": "$1.05"}


async def test_manager_also_sees_server_total_and_top_spenders(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    running.bot.clock = lambda: NOW
    await seed(harness, running)

    inter = await usage_as(harness, running, fd.other_user_id, MANAGE_GUILD)

    assert fields_of(harness, inter) == {
        "Today": "$2.50",
        "May 2026": "$2.50",
        "Server today": "$2.54",
        "Server, May 2026": "$3.54",
        "Top spenders this month": f"1. <@{fd.other_user_id}> $2.50\n2. <@{fd.user_id}> $1.04",
    }


async def test_administrator_counts_as_manager_and_empty_server_says_so(harness: Harness) -> None:
    running = await harness.start_bot()
    running.bot.clock = lambda: NOW
    inter = await usage_as(harness, running, harness.discord.user_id, ADMINISTRATOR)
    fields = fields_of(harness, inter)
    assert fields["Today"] == "$0.00" and fields["Top spenders this month"] == "Nobody yet."


async def test_usage_in_dms_shows_own_spend_only(harness: Harness) -> None:
    running = await harness.start_bot()
    running.bot.clock = lambda: NOW
    await seed(harness, running)
    inter = await harness.command(running, "usage", guild=False)
    assert fields_of(harness, inter) == {"Today": "$0.050", "May 2026": "$1.05"}


def test_periods_are_utc_calendar_day_and_month() -> None:
    late_in_tokyo = datetime(2026, 6, 1, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    p = periods(late_in_tokyo)
    assert p.day == datetime(2026, 6, 1, tzinfo=UTC) and p.month == datetime(2026, 6, 1, tzinfo=UTC)
    p = periods(datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC))
    assert p.day == datetime(2026, 5, 31, tzinfo=UTC) and p.month == datetime(2026, 5, 1, tzinfo=UTC)
