"""Costs from real usage, generous estimates, and exact budgets."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.core.budgets import BudgetPolicy, limits_for
from bot.core.costs import PriceTable, format_usd
from bot.core.options import ImageOptions
from bot.core.usage import Usage


def test_cost_from_usage_is_exact_and_rounds_up() -> None:
    table = PriceTable.from_json(
        '{"text": {"default": {"input": 1, "output": 2}},'
        ' "image": {"default": {"text_input": 5, "image_input": 10, "output": 40}}}'
    )
    usage = Usage(input_tokens=1000, output_tokens=500, image_input_tokens=100, image_output_tokens=1056)
    # 1000*1 + 500*2 + 100*10 + 1056*40 = 45240 dollar-tokens per million = $0.04524
    assert table.cost(usage, model="any", image_model=None) == 45_240
    assert table.cost(Usage(input_tokens=1), model="any", image_model=None) == 1  # never rounds down to free


def test_per_model_prices_win() -> None:
    table = PriceTable.from_json('{"image": {"gpt-image-2": {"text_input": 0, "image_input": 0, "output": 10}}}')
    usage = Usage(image_output_tokens=1_000_000)
    assert table.cost(usage, model="m", image_model="gpt-image-2") == 10_000_000
    assert table.cost(usage, model="m", image_model=None) == 40_000_000  # the default table


@pytest.mark.parametrize("quality", ["low", "medium", "high", "auto"])
def test_estimate_covers_the_image_it_describes(quality: str) -> None:
    table = PriceTable()
    options = ImageOptions(size="1024x1024", quality=quality)
    estimate = table.estimate(options, partial_images=2, input_images=0, model="m", image_model=None)
    tokens = {"low": 272, "medium": 1056, "high": 4160, "auto": 4160}[quality] + 200
    assert estimate >= table.cost(Usage(1500, 300, 100, tokens), model="m", image_model=None)


def test_format_usd() -> None:
    assert format_usd(0) == "$0.00"
    assert format_usd(42_000) == "$0.042"
    assert format_usd(1_200_000) == "$1.20"
    assert format_usd(12_345_000_000) == "$12,345.00"


def test_budget_periods_start_at_utc_midnight_and_month_start() -> None:
    now = datetime(2026, 11, 25, 13, 5, tzinfo=UTC)
    limits = limits_for(BudgetPolicy(user_daily=1, user_monthly=2, guild_daily=3, guild_monthly=None),
                        user_id=7, guild_id=9, now=now)
    assert [(lim.scope, lim.period, lim.subject_id, lim.limit) for lim in limits] == [
        ("member", "day", 7, 1), ("member", "month", 7, 2), ("server", "day", 9, 3)]
    assert limits[0].since == datetime(2026, 11, 25, tzinfo=UTC)
    assert limits[1].since == datetime(2026, 11, 1, tzinfo=UTC)
    assert limits_for(BudgetPolicy(guild_daily=5), user_id=7, guild_id=None, now=now) == []  # DMs: no server


def test_server_limits_only_tighten_the_owners() -> None:
    owner = BudgetPolicy(user_daily=100, guild_monthly=900, bot_daily=5_000, bot_monthly=50_000)
    server = BudgetPolicy(user_daily=50, user_monthly=70, guild_monthly=1_000_000, guild_daily=10)
    assert owner.tightened_by(server) == BudgetPolicy(
        user_daily=50, user_monthly=70, guild_daily=10, guild_monthly=900, bot_daily=5_000, bot_monthly=50_000
    )
    # A generous server changes nothing; a server can't touch the bot-wide caps at all.
    assert owner.tightened_by(BudgetPolicy(user_daily=10**12, bot_daily=10**12)) == owner


def test_bot_wide_caps_apply_everywhere_including_dms() -> None:
    now = datetime(2026, 11, 25, 13, 5, tzinfo=UTC)
    limits = limits_for(BudgetPolicy(bot_daily=5, bot_monthly=50), user_id=7, guild_id=None, now=now)
    assert [(lim.scope, lim.period, lim.limit) for lim in limits] == [("bot", "day", 5), ("bot", "month", 50)]
    assert "whole bot" in str(limits[0].refusal(5, 1)) and "tomorrow" in str(limits[0].refusal(5, 1))


def test_prices_file_round_trip(tmp_path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"text": {"gpt-5.4-mini": {"input": "0.25", "output": "2.00"}}}')
    table = PriceTable.load(str(path))
    assert table.text_prices("gpt-5.4-mini").input == Decimal("0.25")
    assert PriceTable.load(None) == PriceTable()
