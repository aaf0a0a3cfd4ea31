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


async def test_a_full_word_list_is_listed_within_one_message(harness: Harness) -> None:
    running = await harness.start_bot()
    rules = tuple(f"{i:03d}" + "_" * 46 + "*" for i in range(100))  # escaping doubles every _ and *
    await running.store.set_guild_settings(harness.discord.guild_id, GuildSettings(blocked_words=rules),
                                           harness.discord.user_id)
    text = await settings(harness, running, "words", {"action": "list"})
    lines = text.split("\n")
    assert lines[0] == "**Blocked words** (100; `*` matches any letters inside a word):"
    assert lines[1] == "- **000" + "\\_" * 46 + "\\***"
    shown = len(lines) - 2
    assert lines[-1] == f"… and {100 - shown} more" and len(text) <= 1900
