"""The bot as a process: `python -m bot` logs in, and SIGTERM (docker stop) shuts it down cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.__main__ import sync_commands
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[2]


def process_env(harness: Harness) -> dict[str, str]:
    settings_env = {
        "DISCORD_TOKEN": harness.discord.token,
        "OPENAI_API_KEY": harness.openai.api_key,
        "OPENAI_BASE_URL": harness.openai.base_url,
        "DISCORD_API_BASE_URL": harness.discord.api_base,
        "DISCORD_GATEWAY_URL": harness.discord.gateway_url,
        "DATABASE_URL": f"sqlite:///{harness.tmp_path / 'proc.db'}",
        "HEALTH_FILE": str(harness.tmp_path / "proc.health"),
        "LOG_LEVEL": "INFO",
    }
    return {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(ROOT), **settings_env}


async def test_sigterm_exits_cleanly(harness: Harness) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=harness.tmp_path, env=process_env(harness),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await harness.discord.wait_for(lambda: bool(harness.discord.gateway.identifies), timeout=30,
                                       what="the bot process identifies on the gateway")
        # Once ready and recovered, the process freezes its start-up objects (bot.ops.memory.freeze_heap).
        assert process.stdout is not None
        async def until_frozen() -> bytes:
            seen = b""
            while b"start-up objects frozen" not in seen:
                line = await process.stdout.readline()
                assert line, seen.decode()
                seen += line
            return seen

        before = await asyncio.wait_for(until_frozen(), timeout=30)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=10)
        output = before + output
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    assert "received SIGTERM, shutting down" in text
    assert "glibc keeps freed image buffers for reuse" in text  # bot.ops.memory.keep_image_buffers
    assert "Traceback" not in text
    assert harness.discord.token not in text and harness.openai.api_key not in text
    assert (harness.tmp_path / "proc.db").exists()


async def test_sync_registers_draw_and_edit_with_their_options(harness: Harness) -> None:
    settings = harness.settings()
    assert await sync_commands(settings, harness.discord.guild_id) == 0
    commands = {c["name"]: c for c in harness.discord.synced_commands[harness.discord.guild_id]}
    assert {"draw", "edit"} <= set(commands)
    draw = {o["name"]: o for o in commands["draw"]["options"]}
    assert list(draw) == ["prompt", "size", "quality", "background", "format", "compression", "aspect", "resolution",
                          "count"]
    assert (draw["count"]["min_value"], draw["count"]["max_value"]) == (1, 4) and not draw["count"].get("required")
    assert draw["prompt"]["required"] and draw["prompt"]["max_length"] == 4000
    assert [c["value"] for c in draw["size"]["choices"]] == ["auto", "1024x1024", "1536x1024", "1024x1536"]
    assert [c["value"] for c in draw["quality"]["choices"]] == ["auto", "low", "medium", "high"]
    assert [c["value"] for c in draw["background"]["choices"]] == ["auto", "opaque", "transparent"]
    assert [c["value"] for c in draw["format"]["choices"]] == ["png", "jpeg", "webp"]
    assert (draw["compression"]["min_value"], draw["compression"]["max_value"]) == (0, 100)
    assert [c["value"] for c in draw["aspect"]["choices"]] == [
        "1:1", "3:2", "2:3", "4:3", "3:4", "5:4", "4:5", "16:9", "9:16", "21:9", "9:21", "3:1", "1:3"]
    assert [c["value"] for c in draw["resolution"]["choices"]] == ["standard", "large", "4k"]
    edit = {o["name"]: o for o in commands["edit"]["options"]}
    assert list(edit)[:2] == ["instruction", "image"] and edit["image"]["type"] == 11
    assert not edit["image"].get("required", False)
    assert list(edit) == ["instruction", "image", "image2", "image3", "image4", "size", "quality", "background",
                          "format", "compression", "aspect", "resolution", "fidelity", "mask", "results"]
    assert edit["results"]["type"] == 3 and edit["results"]["max_length"] == 1000
    assert all(edit[name]["type"] == 11 for name in ("image2", "image3", "image4", "mask"))
    assert [c["value"] for c in edit["fidelity"]["choices"]] == ["low", "high"]


async def test_health_probe_for_docker(harness: Harness) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = process_env(harness)
    down = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", cwd=harness.tmp_path, env={**env, "METRICS_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await down.communicate()
    assert down.returncode == 1 and b"unhealthy" in out  # nothing is listening yet

    await harness.start_bot(METRICS_PORT=str(port), METRICS_HOST="127.0.0.1")
    up = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", cwd=harness.tmp_path, env={**env, "METRICS_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await up.communicate()
    assert up.returncode == 0, out.decode()
    assert b'"gateway": true' in out and b'"database": true' in out


async def _probe(harness: Harness, **env: str) -> tuple[int, str]:
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", cwd=harness.tmp_path, env={**process_env(harness), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await probe.communicate()
    assert probe.returncode is not None
    return probe.returncode, out.decode()


async def test_health_probe_without_metrics_port_reads_the_bots_health_file(harness: Harness) -> None:
    health_file = str(harness.tmp_path / "default.health")
    code, out = await _probe(harness, HEALTH_FILE=health_file)
    assert code == 1 and out.startswith("unhealthy: no health file")  # no bot running: not healthy

    running = await harness.start_bot(HEALTH_FILE=health_file)
    await running.bot.heartbeat.beat()  # the bot's loop writes the same every few seconds
    code, out = await _probe(harness, HEALTH_FILE=health_file)
    assert code == 0, out
    assert out.strip() == 'healthy: {"gateway": true, "database": true}'

    await harness.stop_bot(running)
    code, out = await _probe(harness, HEALTH_FILE=health_file)
    assert code == 1 and "no health file" in out  # a stopped bot takes its file with it


async def test_unreachable_database_is_one_line_without_the_password(harness: Harness) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {**process_env(harness), "DATABASE_URL": f"postgresql://bot:hunter2secret@127.0.0.1:{port}/threadpaint"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=harness.tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    text = err.decode()
    assert process.returncode == 1, text
    own = [line for line in text.splitlines() if line.startswith("threadpaint:")]
    assert own == [f"threadpaint: cannot open the database postgresql://127.0.0.1:{port}/threadpaint: "
                   "Connection refused"], text
    assert "Traceback" not in text + out.decode() and "hunter2secret" not in text
