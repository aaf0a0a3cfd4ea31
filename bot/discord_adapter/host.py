"""What the Discord side and the cogs need of the running bot.

bot.app.ThreadpaintBot builds all of it in setup_hook; typing against this base instead of that class keeps the
arrows pointing inwards (the entry imports the adapters, never the other way round).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

import openai
from discord.ext import commands

from bot.core.service import ImageService
from bot.discord_adapter.log_channel import LogChannel
from bot.discord_adapter.server_keys import KeyVault
from bot.ops.metrics import Metrics
from bot.settings import Settings
from bot.storage import BotStore


class ImageBot(commands.AutoShardedBot):
    settings: Settings
    metrics: Metrics
    service: ImageService
    # The full store interface (SQLite or PostgreSQL): cogs use query methods beyond the engine's Store protocol.
    store: BotStore
    clock: Callable[[], datetime.datetime]
    recovered: asyncio.Event
    log_channel: LogChannel  # servers' log channels: one paced queue for the whole bot
    key_vault: KeyVault | None  # servers' own OpenAI keys; None when the owner set no SERVER_KEYS_SECRET

    @property
    def openai(self) -> openai.AsyncOpenAI:
        raise NotImplementedError
