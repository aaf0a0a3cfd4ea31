"""The Bot subclass: wires store, OpenAI client and the job engine, then loads the cogs."""

from __future__ import annotations

import logging
from typing import Any

import discord
import openai
import yarl
from discord.ext import commands

from bot.core.engine import OpenAIImageEngine
from bot.core.ports import Store
from bot.core.request import ModelConfig
from bot.core.service import ImageService
from bot.settings import Settings
from bot.storage import open_store
from bot.tree import ThreadpaintTree

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.images",)


def build_openai_client(settings: Settings) -> openai.AsyncOpenAI:
    # No SDK retries: a retried POST after a timeout can be a second billed image (no idempotency keys).
    return openai.AsyncOpenAI(
        api_key=settings.openai_api_key.get(),
        base_url=settings.openai_base_url,
        max_retries=0,
        timeout=openai.Timeout(settings.openai_timeout, connect=10.0),
    )


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured Discord (or Discord-compatible proxy)."""
    # discord.py reads both class attributes at request/connect time and offers no per-client option.
    discord.http.Route.BASE = settings.discord_api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class ThreadpaintBot(commands.Bot):
    service: ImageService
    store: Store

    def __init__(
        self,
        settings: Settings,
        *,
        openai_client: openai.AsyncOpenAI | None = None,
        store: Store | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and thread cache; no message content is ever needed
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, help_command=None, tree_cls=ThreadpaintTree,
            **options,
        )
        self.settings = settings
        self._openai = openai_client
        self._given_store = store
        # Close only what this bot created; injected clients and stores belong to the caller.
        self._owns_openai = openai_client is None

    async def login(self, token: str) -> None:
        point_discord_at(self.settings)
        await super().login(token)

    async def setup_hook(self) -> None:
        self.store = self._given_store or await open_store(self.settings.database_path)
        if self._openai is None:
            self._openai = build_openai_client(self.settings)
        config = ModelConfig(
            model=self.settings.openai_model,
            image_model=self.settings.image_model,
            partial_images=self.settings.partial_images,
        )
        self.service = ImageService(
            self.store, OpenAIImageEngine(self._openai), config, preview_interval=self.settings.preview_interval
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), self.settings.dev_guild_id)

    async def on_ready(self) -> None:
        log.info("ready as %s (%s) in %d guilds", self.user, getattr(self.user, "id", "?"), len(self.guilds))

    async def close(self) -> None:
        await super().close()
        if self._owns_openai and self._openai is not None:
            await self._openai.close()
        if self._given_store is None and hasattr(self, "store"):
            await self.store.close()
