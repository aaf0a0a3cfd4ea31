"""Command line: `python -m bot [run|check|sync]`."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import discord

from bot.app import DiscordUnreachable, ThreadpaintBot
from bot.discord_adapter.endpoints import point_discord_at
from bot.ops.checks import run_checks
from bot.ops.heartbeat import read_heartbeat
from bot.ops.log import setup_logging
from bot.ops.memory import keep_image_buffers
from bot.settings import ConfigError, Settings, load_environment
from bot.storage import StoreUnavailable

log = logging.getLogger("bot")


def load_settings() -> Settings:
    # The environment wins over .env, and an empty value anywhere means unset (for the libraries too).
    load_environment(Path.cwd() / ".env")
    return Settings.from_env(os.environ)


async def run_bot(settings: Settings) -> None:
    if keep_image_buffers(os.environ):
        log.info("glibc keeps freed image buffers for reuse until the bot is idle")
    bot = ThreadpaintBot(settings, freeze_heap_when_ready=True)
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []
    # discord.py handles only SIGINT (KeyboardInterrupt); Docker stops containers with SIGTERM.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _request_close, bot, sig, closing)
    async with bot:
        await bot.start(settings.discord_token.get())
    # bot.start returns as soon as the gateway is closed, which bot.close() does midway: let it finish (clients,
    # database) before asyncio.run cancels whatever is left, or an unclosed database thread keeps the process alive.
    for task in closing:
        await task


def _request_close(bot: ThreadpaintBot, sig: signal.Signals, closing: list[asyncio.Task[None]]) -> None:
    log.info("received %s, shutting down", sig.name)
    closing.append(asyncio.get_running_loop().create_task(bot.close(), name="shutdown"))


async def sync_commands(settings: Settings, guild_id: int | None) -> int:
    bot = ThreadpaintBot(settings)
    async with bot:
        await bot.login(settings.discord_token.get())
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    where = f"guild {guild_id}" if guild_id else "all servers (may take up to an hour to show)"
    print(f"synced {len(synced)} commands to {where}")
    return 0


def probe_health(settings: Settings) -> int:
    """Ask the running bot's /healthz on this machine, or without METRICS_PORT read the health file it writes."""
    if settings.metrics_port is None:
        healthy, line = read_heartbeat(settings.health_file, time.time())
        print(("healthy: " if healthy else "unhealthy: ") + line)
        return 0 if healthy else 1
    url = f"http://127.0.0.1:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {exc.code} {exc.read().decode()}")
    except OSError as exc:
        print(f"unhealthy: {url} unreachable ({exc})")
    return 1


def _prog() -> str:
    # The same parser serves `python -m bot` and the `threadpaint` console script: name the one that was typed.
    return "python -m bot" if Path(sys.argv[0]).name == "__main__.py" else Path(sys.argv[0]).name


def _version() -> str:
    try:
        return importlib.metadata.version("threadpaint")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=_prog(), description="threadpaint Discord image bot")
    parser.add_argument("--version", action="version", version=f"threadpaint {_version()}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (default)")
    sub.add_parser("check", help="check settings, Discord, OpenAI and the database, then exit")
    sync = sub.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, default=None, help="sync to one server instantly")
    sub.add_parser("health", help="exit 0 if the running bot's /healthz says it is healthy (Docker HEALTHCHECK)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"threadpaint: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level,
        secrets=(
            settings.discord_token.get(), settings.openai_api_key.get(), settings.database_password or "",
            settings.server_keys_secret.get() if settings.server_keys_secret else "",
        ),
        fmt=settings.log_format,
    )
    point_discord_at(settings)
    if args.command == "health":
        return probe_health(settings)
    try:
        if args.command == "check":
            return asyncio.run(run_checks(settings))
        if args.command == "sync":
            return asyncio.run(sync_commands(settings, args.guild))
        asyncio.run(run_bot(settings))
    except discord.LoginFailure:
        print("threadpaint: Discord rejected DISCORD_TOKEN; copy the bot token again from the developer portal",
              file=sys.stderr)
        return 1
    except (DiscordUnreachable, StoreUnavailable) as exc:
        print(f"threadpaint: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # found while starting up, e.g. a proxy the OpenAI client can't use
        print(f"threadpaint: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
