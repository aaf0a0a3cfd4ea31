"""`python -m bot check` and the start-up model warnings, against the fake Discord and fake OpenAI."""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from bot.openai_adapter.client import build_openai_client
from bot.ops.checks import model_warnings, parse_shutdown_date, run_checks
from bot.settings import Settings
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[3]
TODAY = datetime.datetime.now(datetime.UTC)


def iso_day(days: int) -> str:
    """A `shutdown_date` as the spec gives it: an ISO date string, `days` from today."""
    return (TODAY + datetime.timedelta(days=days)).date().isoformat()


async def report(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = await run_checks(settings)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines()


def lines_for(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if f"] {name}:" in line]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_all_good_exits_0_and_every_line_is_ok(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await report(harness.settings(IMAGE_MODEL="gpt-image-2"), capsys)
    assert code == 0, lines
    assert [line.split("]")[0] for line in lines] == ["[  ok"] * 5, lines
    names = [line.split("] ")[1].split(":")[0] for line in lines]
    assert names == ["money", "database", "discord", "OPENAI_MODEL", "IMAGE_MODEL"]
    # A fresh install states the caps in force, which are on by default.
    assert lines[0] == (
        "[  ok] money: whole bot $5.00 a day and $50.00 a month; each member $1.00 a day and $10.00 a month; "
        "any server"
    )
    assert "schema v" in lines_for(lines, "database")[0]
    assert (harness.tmp_path / "threadpaint.db").exists()


async def test_unlimited_caps_are_warned_about(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    settings = harness.settings(
        IMAGE_MODEL="gpt-image-2", BUDGET_BOT_DAILY_USD="unlimited", BUDGET_USER_DAILY_USD="unlimited",
        ALLOWED_GUILDS=f"{harness.discord.guild_id}",
    )
    code, lines = await report(settings, capsys)
    assert code == 0, lines
    assert lines[0] == (
        "[WARN] money: whole bot unlimited a day and $50.00 a month; each member unlimited a day and $10.00 a month; "
        "BUDGET_BOT_DAILY_USD unlimited: anyone who can reach the bot can spend without limit (1 allowed servers)"
    )


async def test_unknown_openai_model_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await report(harness.settings(OPENAI_MODEL="gpt-nope"), capsys)
    assert code == 1
    [line] = lines_for(lines, "OPENAI_MODEL")
    assert line.startswith("[FAIL]") and "'gpt-nope' does not exist" in line


async def test_unknown_image_model_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await report(harness.settings(IMAGE_MODEL="gpt-image-0"), capsys)
    assert code == 1
    [line] = lines_for(lines, "IMAGE_MODEL")
    assert line.startswith("[FAIL]") and "gpt-image-0" in line
    assert lines_for(lines, "OPENAI_MODEL")[0].startswith("[  ok]")


async def test_shutdown_within_30_days_warns_but_passes(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.openai.models["gpt-image-1.5"]["shutdown_date"] = iso_day(6)
    code, lines = await report(harness.settings(IMAGE_MODEL="gpt-image-1.5"), capsys)
    assert code == 0, lines
    [line] = lines_for(lines, "IMAGE_MODEL")
    assert line.startswith("[WARN]") and f"shuts down on {iso_day(6)}" in line


async def test_shutdown_in_the_past_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.openai.models["gpt-5.4-mini"]["shutdown_date"] = iso_day(-3)
    code, lines = await report(harness.settings(), capsys)
    assert code == 1
    [line] = lines_for(lines, "OPENAI_MODEL")
    assert line.startswith("[FAIL]") and f"shut down on {iso_day(-3)}" in line


async def test_distant_shutdown_is_ok(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.openai.models["gpt-5.4-mini"]["shutdown_date"] = iso_day(200)
    code, lines = await report(harness.settings(), capsys)
    assert code == 0
    assert lines_for(lines, "OPENAI_MODEL")[0].startswith("[  ok]")


@pytest.mark.parametrize(
    ("raw", "mark"),
    [
        (int((TODAY + datetime.timedelta(days=10)).timestamp()), "[WARN]"),  # unix seconds
        ((TODAY - datetime.timedelta(days=1)).timestamp(), "[FAIL]"),  # float seconds
        ((TODAY + datetime.timedelta(days=10)).isoformat(), "[WARN]"),  # ISO datetime with offset
        ((TODAY + datetime.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"), "[  ok]"),
        ("soon", "[WARN]"),  # unreadable: still available, but say so
    ],
)
async def test_shutdown_date_formats(
    harness: Harness, capsys: pytest.CaptureFixture[str], raw: object, mark: str
) -> None:
    harness.openai.models["gpt-5.4-mini"]["shutdown_date"] = raw
    _, lines = await report(harness.settings(), capsys)
    assert lines_for(lines, "OPENAI_MODEL")[0].startswith(mark), lines


def test_parse_shutdown_date() -> None:
    assert parse_shutdown_date("2026-10-23") == datetime.datetime(2026, 10, 23, tzinfo=datetime.UTC)
    assert parse_shutdown_date(1_792_713_600) == datetime.datetime(2026, 10, 23, tzinfo=datetime.UTC)
    assert parse_shutdown_date("1792713600") == datetime.datetime(2026, 10, 23, tzinfo=datetime.UTC)
    assert parse_shutdown_date(True) is None
    assert parse_shutdown_date("next week") is None


async def test_wrong_discord_token_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await report(harness.settings(DISCORD_TOKEN="wrong"), capsys)
    assert code == 1
    [line] = lines_for(lines, "discord")
    assert line.startswith("[FAIL]") and "DISCORD_TOKEN was rejected (401)" in line


async def test_discord_unreachable_fails_clearly(
    harness: Harness, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    base = f"http://127.0.0.1:{closed_port}/api/v10"
    code, lines = await report(harness.settings(DISCORD_API_BASE_URL=base), capsys)
    assert code == 1
    assert lines_for(lines, "discord") == [f"[FAIL] discord: cannot connect to {base}: connection refused "
                                           "(nothing is listening there)"]


async def test_discord_other_status_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    base = f"{harness.openai.base_url.removesuffix('/v1')}/nowhere"  # an HTTP server without Discord's routes
    code, lines = await report(harness.settings(DISCORD_API_BASE_URL=base), capsys)
    assert code == 1
    [line] = lines_for(lines, "discord")
    assert line.startswith("[FAIL]") and "answered HTTP 4" in line


async def test_openai_unreachable_fails(
    harness: Harness, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    code, lines = await report(harness.settings(OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port}/v1"), capsys)
    assert code == 1
    [line] = lines_for(lines, "OPENAI_MODEL")
    assert line.startswith("[FAIL]") and "cannot reach OpenAI" in line


async def test_wrong_openai_key_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await report(harness.settings(OPENAI_API_KEY="sk-wrong-key"), capsys)
    assert code == 1
    assert "OPENAI_API_KEY was rejected (401)" in lines_for(lines, "OPENAI_MODEL")[0]


async def test_database_under_a_file_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = harness.tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, lines = await report(harness.settings(DATABASE_URL=f"sqlite:///{blocker}/threadpaint.db"), capsys)
    assert code == 1
    [line] = lines_for(lines, "database")
    assert line.startswith("[FAIL]") and f"cannot create folder {blocker}" in line
    assert blocker.is_file()


async def test_database_newer_than_the_bot_fails(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    path = harness.tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    code, lines = await report(harness.settings(DATABASE_URL=f"sqlite:///{path}"), capsys)
    assert code == 1
    [line] = lines_for(lines, "database")
    assert line.startswith("[FAIL]") and "v99" in line


async def test_relative_database_url_is_created_under_the_working_directory(
    harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, lines = await report(harness.settings(DATABASE_URL="sqlite:///data/bot.db"), capsys)
    assert code == 0, lines
    assert (tmp_path / "data" / "bot.db").is_file()
    assert str(tmp_path / "data" / "bot.db") in lines_for(lines, "database")[0]  # the absolute path is shown
    # The write check was rolled back: only the migrated schema is left.
    with sqlite3.connect(tmp_path / "data" / "bot.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "threadpaint_write_check" not in tables


async def test_model_warnings(harness: Harness) -> None:
    harness.openai.models["gpt-image-1.5"]["shutdown_date"] = iso_day(6)
    client = build_openai_client(harness.settings())
    harness.clients.append(client)

    assert await model_warnings(harness.settings(IMAGE_MODEL="gpt-image-2"), client) == []
    assert await model_warnings(harness.settings(IMAGE_MODEL="gpt-image-1.5"), client) == [
        f"IMAGE_MODEL: gpt-image-1.5 shuts down on {iso_day(6)} (in 5 days); choose another model"
    ]
    assert await model_warnings(harness.settings(OPENAI_MODEL="gpt-nope"), client) == [
        "OPENAI_MODEL: model 'gpt-nope' does not exist or this key can't use it"
    ]


async def test_model_warnings_never_raise_when_openai_is_down(harness: Harness, closed_port: int) -> None:
    settings = harness.settings(OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port}/v1", IMAGE_MODEL="gpt-image-2")
    client = build_openai_client(settings)
    harness.clients.append(client)
    warnings = await model_warnings(settings, client)
    assert [w.split(":")[0] for w in warnings] == ["OPENAI_MODEL", "IMAGE_MODEL"]
    assert all("cannot reach OpenAI" in w for w in warnings)


async def test_model_warnings_swallow_unexpected_errors(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    client = build_openai_client(harness.settings())
    harness.clients.append(client)

    async def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("boom")

    monkeypatch.setattr(openai.resources.models.AsyncModels, "retrieve", broken)
    assert await model_warnings(harness.settings(), client) == [
        "OPENAI_MODEL: could not check 'gpt-5.4-mini': ValueError"
    ]


async def test_cli_check_subprocess(harness: Harness, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": harness.discord.token,
        "OPENAI_API_KEY": harness.openai.api_key,
        "OPENAI_BASE_URL": harness.openai.base_url,
        "DISCORD_API_BASE_URL": harness.discord.api_base,
        "DISCORD_GATEWAY_URL": harness.discord.gateway_url,
        "DATABASE_URL": "sqlite:///data/cli.db",
        "IMAGE_MODEL": "gpt-image-2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    # One line per check (logging, e.g. "applying migration", may come before the report).
    checks = [line for line in text.splitlines() if line.startswith("[")]
    assert len(checks) == 5 and all(line.startswith("[  ok]") for line in checks), text
    assert "Traceback" not in text
    assert harness.discord.token not in text and harness.openai.api_key not in text
    assert (tmp_path / "data" / "cli.db").is_file()

    # The same command with a model that is gone: exit 1, still no secrets and no traceback.
    harness.openai.models["gpt-image-2"]["shutdown_date"] = iso_day(-1)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 1, text
    assert "[FAIL] IMAGE_MODEL: gpt-image-2 was shut down on" in text
    assert "Traceback" not in text
    assert harness.discord.token not in text and harness.openai.api_key not in text
