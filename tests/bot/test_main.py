"""The CLI: configuration errors stop the bot with one clear line and no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    clean = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60
    )


def test_missing_token_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"OPENAI_API_KEY": "sk-x"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "threadpaint: configuration error: DISCORD_TOKEN is required but not set (see .env.example)"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv\nOPENAI_API_KEY=sk-x\nPARTIAL_IMAGES=9\n")
    result = run_cli(tmp_path, {"PARTIAL_IMAGES": "nine"})
    assert result.returncode == 2
    # The environment's malformed value is the one reported, so the environment won over .env.
    assert "PARTIAL_IMAGES" in result.stderr and "'nine'" in result.stderr


def test_logs_scrub_the_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.__main__ as cli

    seen: list[str] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://threadpaint:s3cret-pw@db:5432/threadpaint")
    monkeypatch.delenv("METRICS_PORT", raising=False)
    monkeypatch.setattr(cli, "setup_logging", lambda level, secrets, fmt: seen.extend(secrets))
    assert cli.main(["health"]) == 0  # without METRICS_PORT the probe passes at once
    assert "s3cret-pw" in seen
