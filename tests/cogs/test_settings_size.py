"""/threadpaint settings replies stay one Discord message however long every list is."""

from __future__ import annotations

from bot.core.guild_settings import MAX_LISTED, GuildSettings
from tests.cogs.test_settings import settings
from tests.harness import Harness

BIG = 1_577_074_576_246_964_229  # a 19-digit snowflake, as long as real ones get


async def test_the_longest_summary_still_fits_one_message(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.5", BUDGET_USER_MONTHLY_USD="5")
    ids = frozenset(BIG + i for i in range(MAX_LISTED))
    longest = GuildSettings(
        allowed_channel_ids=ids, allowed_role_ids=ids, spoiler_channel_ids=ids, log_channel_id=BIG,
        user_daily_micros=900_000_000, user_monthly_micros=900_000_000, guild_daily_micros=900_000_000,
        guild_monthly_micros=900_000_000,
        role_budgets=tuple((BIG + i, 900_000_000, 900_000_000) for i in range(MAX_LISTED)),
        blocked_words=tuple(f"word{i}" for i in range(100)),
    )
    await running.store.set_guild_settings(harness.discord.guild_id, longest, harness.discord.user_id)
    text = await settings(harness, running, "show")  # the fake refuses a message over 2000 characters
    assert text.startswith(f"**Channels:** <#{BIG}>") and len(text) <= 2000
