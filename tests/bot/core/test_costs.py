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


def test_fractions_of_a_micro_dollar_round_up() -> None:
    prices = PriceTable()  # mainline input at $0.25 per million tokens: a quarter micro-dollar per token
    assert prices.cost(Usage(input_tokens=1), model="m", image_model=None) == 1  # 0.25, up
    assert prices.cost(Usage(input_tokens=5), model="m", image_model=None) == 2  # 1.25, up
    assert prices.cost(Usage(input_tokens=8), model="m", image_model=None) == 2  # exactly 2


def test_per_model_prices_win() -> None:
    table = PriceTable.from_json('{"image": {"gpt-image-2": {"text_input": 0, "image_input": 0, "output": 10}}}')
    usage = Usage(image_output_tokens=1_000_000)
    assert table.cost(usage, model="m", image_model="gpt-image-2") == 10_000_000
    assert table.cost(usage, model="m", image_model=None) == 40_000_000  # the default table


# Built-in prices in $ per million tokens, so micro-dollars = tokens x price: mainline allowance 4,000 in x 0.25 +
# 1,000 out x 2.00 = 3,000; image input 200 (the prompt) x 10 = 2,000 (+ 1,500 x 10 = 15,000 per input image);
# image output (the image's tokens + 100 per preview) x 40.
@pytest.mark.parametrize(("quality", "size", "partials", "inputs", "micros"), [
    ("low", "1024x1024", 2, 0, 23_880),  # 3,000 + 2,000 + (272 + 200) x 40 = 18,880
    ("medium", "1024x1024", 2, 0, 55_240),  # 5,000 + (1,056 + 200) x 40 = 50,240
    ("high", "1024x1024", 2, 0, 179_400),  # 5,000 + (4,160 + 200) x 40 = 174,400
    ("auto", "1024x1024", 2, 0, 179_400),  # auto may pick high
    ("low", "1024x1024", 0, 0, 15_880),  # 5,000 + 272 x 40 = 10,880
    ("high", "1024x1536", 2, 0, 262_600),  # 5,000 + (6,240 + 200) x 40 = 257,600: the README's $0.26
    ("auto", "auto", 2, 3, 307_600),  # 3,000 + (3 x 1,500 + 200) x 10 = 47,000 + (6,240 + 200) x 40 = 257,600
    # 2.25 x 1024x1024: 4,160 x 2.25 = 9,360 tokens; 5,000 + (9,360 + 200) x 40 = 382,400
    ("auto", "2048x1152", 2, 0, 387_400),
    # 3840x2160 = 7.91015625 x 1024x1024: 4,160 x 7.91015625 = 32,906.25, rounded up to 32,907 tokens;
    # 5,000 + (32,907 + 200) x 40 = 1,324,280: the README's "about $1.32" for 4K
    ("auto", "3840x2160", 2, 0, 1_329_280),
])
def test_estimate_by_hand(quality: str, size: str, partials: int, inputs: int, micros: int) -> None:
    options = ImageOptions(size=size, quality=quality)
    estimate = PriceTable().estimate(options, partial_images=partials, input_images=inputs, model="m",
                                     image_model=None)
    assert estimate == micros


@pytest.mark.parametrize(("partials_seen", "inputs", "micros"), [
    (0, 0, 5_000),  # started, no preview: mainline 3,000 + prompt 200 x 10 = 2,000
    (2, 0, 23_880),  # the previews arrived: + (272 + 2 x 100) x 40 = 18,880
    (1, 1, 34_880),  # 3,000 + (1,500 + 200) x 10 = 17,000 + (272 + 100) x 40 = 14,880
])
def test_produced_by_hand(partials_seen: int, inputs: int, micros: int) -> None:
    options = ImageOptions(size="1024x1024", quality="low")
    produced = PriceTable().produced(options, partials_seen=partials_seen, input_images=inputs, model="m",
                                     image_model=None)
    assert produced == micros


def test_delivered_is_never_below_the_images_price() -> None:
    prices = PriceTable()
    # low 1024x1024 with 2 previews is 472 output tokens: a response reporting fewer is raised to 472.
    short = Usage(input_tokens=120, output_tokens=40, image_input_tokens=64, image_output_tokens=157)
    # 120 x 0.25 + 40 x 2 + 64 x 10 + 472 x 40 = 30 + 80 + 640 + 18,880
    assert prices.delivered(short, size="1024x1024", quality="low", partial_images=2, model="m",
                            image_model=None) == 19_630
    full = Usage(input_tokens=120, output_tokens=40, image_input_tokens=64, image_output_tokens=600)
    assert prices.delivered(full, size="1024x1024", quality="low", partial_images=2, model="m",
                            image_model=None) == 24_750  # 750 + 600 x 40


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
