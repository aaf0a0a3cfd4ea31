"""The CLI: configuration errors stop the bot with one clear line and no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def _shipped_env_example(tmp_path: Path) -> None:
    """`.env.example` exactly as shipped, with only the two secrets filled in, as a new owner's `.env`."""
    root = Path(__file__).resolve().parents[2]
    text = (root / ".env.example").read_text()
    text = text.replace("\nDISCORD_TOKEN=\n", "\nDISCORD_TOKEN=owner.discord.token\n")
    text = text.replace("\nOPENAI_API_KEY=\n", "\nOPENAI_API_KEY=sk-owner-key\n")
    assert "owner.discord.token" in text and "sk-owner-key" in text
    (tmp_path / ".env").write_text(text)


def test_env_example_as_shipped_targets_openai_and_discord(tmp_path: Path) -> None:
    _shipped_env_example(tmp_path)
    # What the bot builds from that .env, and what a library reading the environment on its own (a plain SDK
    # client) sees after start-up: both must target the real services, not the empty OPENAI_BASE_URL= line.
    probe = (
        "import discord, openai\n"
        "from bot.__main__ import load_settings\n"
        "from bot.openai_adapter.client import build_openai_client\n"
        "from bot.discord_adapter.endpoints import point_discord_at\n"
        "settings = load_settings()\n"
        "point_discord_at(settings)\n"
        "print(build_openai_client(settings).base_url)\n"
        "print(openai.AsyncOpenAI().base_url)\n"
        "print(discord.http.Route.BASE)\n"
        "print(settings.database_path)\n"
    )
    result = run_cli_code(tmp_path, {}, probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "https://api.openai.com/v1/", "https://api.openai.com/v1/", "https://discord.com/api/v10",
        "data/threadpaint.db",
    ]


def test_empty_environment_values_are_unset_and_dotenv_fills_them(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=t\nOPENAI_API_KEY=sk-x\nOPENAI_MODEL=gpt-from-dotenv\n")
    probe = (
        "import os\n"
        "from bot.__main__ import load_settings\n"
        "settings = load_settings()\n"
        "print(settings.openai_model, 'OPENAI_BASE_URL' in os.environ, 'OPENAI_ORG_ID' in os.environ)\n"
    )
    # An empty variable in the environment counts as unset: .env's value applies, and empty ones disappear.
    result = run_cli_code(tmp_path, {"OPENAI_MODEL": "", "OPENAI_BASE_URL": " ", "OPENAI_ORG_ID": ""}, probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["gpt-from-dotenv", "False", "False"]


def run_cli_code(tmp_path: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    clean = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60
    )


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on return: nothing listens there


def test_unreachable_discord_is_one_line_for_run_and_sync(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{_closed_port()}/api/v10"
    env = {"DISCORD_TOKEN": "t.t.t", "OPENAI_API_KEY": "sk-x", "DISCORD_API_BASE_URL": api}
    for command in ([], ["sync"]):
        result = run_cli(tmp_path, env, *command)
        assert result.returncode == 1, result.stderr
        own = [line for line in result.stderr.splitlines() if line.startswith("threadpaint:")]
        assert own == [f"threadpaint: cannot reach Discord at {api}: Connection refused"]
        assert "Traceback" not in result.stderr + result.stdout
        # discord.py's warnings about voice packages this bot never uses are silenced.
        assert "PyNaCl" not in result.stderr and "davey" not in result.stderr
        assert len(result.stderr.splitlines()) <= 2  # at most discord.py's "logging in" line besides ours


def test_version_and_program_name(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from bot.__main__ import main

    result = run_cli(tmp_path, {}, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"threadpaint {importlib.metadata.version('threadpaint')}"
    # Installed as a console script, the help names the command that was typed.
    monkeypatch.setattr(sys, "argv", ["/opt/venv/bin/threadpaint", "--help"])
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: threadpaint ")
    monkeypatch.setattr(sys, "argv", ["/src/bot/__main__.py", "--help"])
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m bot ")


def test_license_is_shipped_and_declared_in_spdx_form() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"  # the PEP 639 string, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    assert (root / "LICENSE").read_text().startswith("MIT License\n")


def test_socks_proxy_without_support_is_one_line(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "t.t.t", "OPENAI_API_KEY": "sk-x", "ALL_PROXY": "socks5://127.0.0.1:1080",
           "DISCORD_API_BASE_URL": f"http://127.0.0.1:{_closed_port()}/api/v10"}
    result = run_cli(tmp_path, env, "check")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "threadpaint: configuration error: a SOCKS proxy is set (ALL_PROXY, HTTPS_PROXY or HTTP_PROXY) but SOCKS "
        "support is not installed: pip install socksio, or unset the proxy"
    )
    assert "Traceback" not in result.stderr
def test_logs_scrub_the_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.__main__ as cli

    seen: list[str] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://threadpaint:s3cret-pw@db:5432/threadpaint")
    monkeypatch.delenv("METRICS_PORT", raising=False)
    monkeypatch.setattr(cli, "setup_logging", lambda level, secrets, fmt: seen.extend(secrets))
    assert cli.main(["health"]) == 1  # no bot runs here: the probe answers at once, unhealthy
    assert "s3cret-pw" in seen
