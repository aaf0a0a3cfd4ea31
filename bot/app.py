"""The Bot subclass: wires store, OpenAI client and the job engine, then loads the cogs."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import discord
import openai
from discord.ext import commands

from bot.core.budgets import BudgetPolicy
from bot.core.costs import PriceTable
from bot.core.engine import OpenAIImageEngine
from bot.core.reasons import connection_reason
from bot.core.request import ModelConfig
from bot.core.retry import RetryPolicy
from bot.core.service import ImageService
from bot.core.shards import ShardScope
from bot.discord_adapter.endpoints import point_discord_at
from bot.discord_adapter.host import ImageBot
from bot.discord_adapter.i18n import CatalogueTranslator
from bot.discord_adapter.log_channel import LogChannel
from bot.discord_adapter.recovery import Leftovers, collect, recover
from bot.discord_adapter.server_keys import KeyVault
from bot.discord_adapter.tree import ThreadpaintTree
from bot.openai_adapter.client import build_openai_client
from bot.openai_adapter.image_events import build_event_validators
from bot.ops.checks import check_money, model_warnings
from bot.ops.heartbeat import Heartbeat
from bot.ops.memory import freeze_heap
from bot.ops.metrics import Metrics, MetricsServer, check_health
from bot.settings import Settings
from bot.storage import BotStore, open_store_url

log = logging.getLogger(__name__)

# Discord accepts one IDENTIFY per max_concurrency bucket every 5 seconds, across all processes of a bot.
IDENTIFY_SPACING = 5.0

class DiscordUnreachable(Exception):
    """Logging in failed for want of a connection; the message says where to, and why, in one line."""


EXTENSIONS = ("cogs.images", "cogs.settings", "cogs.history", "cogs.usage", "cogs.privacy")


class ThreadpaintBot(ImageBot):
    def __init__(
        self,
        settings: Settings,
        *,
        openai_client: openai.AsyncOpenAI | None = None,
        store: BotStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        freeze_heap_when_ready: bool = False,
        **options: Any,
    ) -> None:
        # This bot never joins voice: discord.py's start-up warnings about missing voice packages are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True  # channel and thread cache; no message content is ever needed
        # Counted even without METRICS_PORT (cheap); the HTTP session's trace counts Discord's 429s.
        self.metrics = Metrics()
        options.setdefault("http_trace", self.metrics.http_trace())
        # Auto-sharded even with one shard: growing past 2,500 servers is a setting, not a code change.
        options.setdefault("shard_count", settings.shard_count)
        if settings.shard_ids is not None:
            options.setdefault("shard_ids", list(settings.shard_ids))
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, help_command=None, tree_cls=ThreadpaintTree,
            # Nothing the bot sends pings anyone, whatever text (a prompt, a name) ends up in it.
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self._metrics_server: MetricsServer | None = None
        self.heartbeat = Heartbeat(settings.health_file, self.health)
        self.settings = settings
        self._openai = openai_client
        self._given_store = store
        self._sleep = sleep  # the engine's waits between retries; tests pass a clock they move by hand
        self.clock: Callable[[], datetime.datetime] = discord.utils.utcnow
        self.recovered = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        # Close only what this bot created; injected clients and stores belong to the caller.
        self._owns_openai = openai_client is None
        self._identify_buckets: int | None = None
        # A process-wide step (see bot.ops.memory.freeze_heap): `python -m bot` asks for it, tests that start many
        # bots in one process don't.
        self._freeze_heap = freeze_heap_when_ready

    @property
    def openai(self) -> openai.AsyncOpenAI:
        assert self._openai is not None, "available after setup_hook"
        return self._openai

    async def login(self, token: str) -> None:
        point_discord_at(self.settings)
        try:
            await super().login(token)
        except (aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
            where = self.settings.discord_api_base_url
            raise DiscordUnreachable(f"cannot reach Discord at {where}: {connection_reason(exc)}") from exc

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        # Client.start is login + connect; the metrics server runs only for a real run (not `sync`).
        await self.login(token)
        if self.settings.metrics_port is not None and self._metrics_server is None:
            server = MetricsServer(
                self.metrics, self.health, host=self.settings.metrics_host, port=self.settings.metrics_port
            )
            await server.start()
            self._metrics_server = server
        self.heartbeat.start()
        await self.connect(reconnect=reconnect)

    async def setup_hook(self) -> None:
        self.store = self._given_store or await open_store_url(self.settings.database_url)
        if self._openai is None:
            self._openai = build_openai_client(self.settings)
        # The SDK imports its Responses resources and builds their models on first use: about 0.3 s in which the
        # event loop stood still, on the first /draw after every start. Here it is part of starting.
        _ = self._openai.responses
        build_event_validators()  # likewise the validators of the stream's events (0.15 s on the first job)
        config = ModelConfig(
            model=self.settings.openai_model,
            image_model=self.settings.image_model,
            partial_images=self.settings.partial_images,
        )
        engine = OpenAIImageEngine(
            self._openai,
            retry=RetryPolicy(self.settings.retry_attempts, self.settings.retry_base_delay),
            idle_timeout=self.settings.stream_idle_timeout,
            sleep=self._sleep,
        )
        self.service = ImageService(
            self.store,
            engine,
            config,
            preview_interval=self.settings.preview_interval,
            prices=PriceTable.load(self.settings.prices_file),
            max_concurrent=self.settings.max_concurrent_jobs,
            max_per_user=self.settings.max_jobs_per_user,
            budgets=BudgetPolicy(
                user_daily=self.settings.budget_user_daily,
                user_monthly=self.settings.budget_user_monthly,
                guild_daily=self.settings.budget_guild_daily,
                guild_monthly=self.settings.budget_guild_monthly,
                bot_daily=self.settings.budget_bot_daily,
                bot_monthly=self.settings.budget_bot_monthly,
            ),
            observer=self.metrics,
            job_deadline=self.settings.job_deadline,
            allow_low_moderation=self.settings.allow_low_moderation,
        )
        self.log_channel = LogChannel(self, self.store)
        secret = self.settings.server_keys_secret
        self.key_vault = KeyVault(secret.get()) if secret else None
        self._spawn(self.log_channel.run(), "log-channel")
        money = check_money(self.settings)
        (log.warning if money.warning else log.info)("spending caps: %s", money.message)
        self.metrics.watch(self.service)
        await self.tree.set_translator(CatalogueTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), self.settings.dev_guild_id)
        leftovers = await collect(self.store, self._startup_scope())
        self._spawn(self._after_ready(leftovers), "startup")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py only spaces the shards of one process; the store spaces every process sharing the database.
        if self._identify_buckets is None:
            try:
                self._identify_buckets = (await self.fetch_session_start_limits()).max_concurrency or 1
            except discord.DiscordException as exc:
                log.warning("could not read Discord's session start limits (%s); identifying one at a time", exc)
                self._identify_buckets = 1
        await self.store.wait_to_identify((shard_id or 0) % self._identify_buckets, IDENTIFY_SPACING)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _startup_scope(self) -> ShardScope:
        # Before the shards launch the count may be unknown (Discord recommends it); then all of them run here.
        if self.settings.shard_count is None:
            return ShardScope.everything()
        return ShardScope.of(self.settings.shard_count, self.settings.shard_ids)

    async def _after_ready(self, leftovers: Leftovers) -> None:
        """Once connected: warn about retiring models, then finish what a crash left behind."""
        assert self._openai is not None
        for warning in await model_warnings(self.settings, self._openai):
            log.warning("%s", warning)
        await self.wait_until_ready()
        try:
            await recover(self, leftovers)
        except Exception:
            log.exception("start-up recovery failed")
        finally:
            if self._freeze_heap:
                freeze_heap()
            self.recovered.set()

    async def health(self) -> dict[str, bool]:
        return await check_health(self, getattr(self, "store", None))

    async def on_ready(self) -> None:
        # By now the shard count is known, even when Discord recommended it.
        shards = ShardScope.of(self.shard_count or 1, self.shard_ids)
        log.info("ready as %s (%s) in %d guilds on %s", self.user, getattr(self.user, "id", "?"), len(self.guilds),
                 shards.describe())
        for guild in list(self.guilds):
            await self._leave_if_unlisted(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._leave_if_unlisted(guild)

    async def _leave_if_unlisted(self, guild: discord.Guild) -> None:
        allowed = self.settings.allowed_guilds
        if allowed is None or guild.id in allowed:
            return
        if not self.settings.leave_unlisted_guilds:
            log.warning("in server %s (%s), which is not in ALLOWED_GUILDS: commands there are refused",
                        guild.id, guild.name)
            return
        log.warning("leaving server %s (%s): not in ALLOWED_GUILDS and LEAVE_UNLISTED_GUILDS is on",
                    guild.id, guild.name)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.warning("could not leave server %s: %s", guild.id, exc)

    async def close(self) -> None:
        # Jobs finish (or are marked interrupted in Discord) while the connection still works.
        if hasattr(self, "service"):
            await self.service.shutdown(self.settings.shutdown_grace)
        for task in list(self._background):
            task.cancel()
        await super().close()
        await self.heartbeat.stop()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
            self._metrics_server = None
        if self._owns_openai and self._openai is not None:
            await self._openai.close()
        if self._given_store is None and hasattr(self, "store"):
            await self.store.close()
