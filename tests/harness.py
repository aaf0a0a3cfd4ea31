"""Runs the real bot against the fake Discord and fake OpenAI, and waits for commands to finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import openai

from bot.app import ThreadpaintBot
from bot.openai_adapter.client import SPARE_CONNECTIONS, ImageStreamingOpenAI, openai_http_client
from bot.settings import Settings
from bot.storage import SqliteStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_state import FakeInteraction
from tests.fakes.openai_server import FakeOpenAI


class CommandTracker:
    """Records when each interaction's command callback returned (or raised)."""

    def __init__(self, bot: ThreadpaintBot) -> None:
        self._bot = bot
        self.done: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.errors: dict[int, BaseException] = {}
        self.seen: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.callbacks: dict[int, list[asyncio.Task[Any]]] = {}
        original = bot.tree.on_error

        async def completed(interaction: discord.Interaction, command: object) -> None:
            self.done[interaction.id].set()

        async def any_interaction(interaction: discord.Interaction) -> None:
            # Components and modals have no completion event. discord.py creates the task that runs their callback
            # before it dispatches on_interaction, so it exists now (unless it already finished): remember it.
            self.callbacks[interaction.id] = _callback_tasks(interaction.id)
            self.seen[interaction.id].set()

        async def on_error(interaction: discord.Interaction, error: discord.app_commands.AppCommandError) -> None:
            self.errors[interaction.id] = error
            self.done[interaction.id].set()
            await original(interaction, error)

        bot.add_listener(completed, "on_app_command_completion")
        bot.add_listener(any_interaction, "on_interaction")
        bot.tree.on_error = on_error  # type: ignore[method-assign]

    async def wait_any(self, interaction_id: int, timeout: float = 10.0) -> None:
        """For buttons and modals: wait until the bot saw the interaction and finished every job it started."""
        await asyncio.wait_for(self.seen[interaction_id].wait(), timeout)
        callbacks = self.callbacks.get(interaction_id, [])
        if callbacks:  # a callback awaits the job it admitted (service.run), so this covers admission
            await asyncio.wait_for(asyncio.wait(callbacks), timeout)
        await asyncio.wait_for(self._service_idle(), timeout)

    async def _service_idle(self) -> None:
        await self._bot.service.wait_idle()

    async def wait(self, interaction_id: int, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.done[interaction_id].wait(), timeout)
        if interaction_id in self.errors:
            raise AssertionError(f"command raised: {self.errors[interaction_id]!r}")


def _callback_tasks(interaction_id: int) -> list[asyncio.Task[Any]]:
    """The pending discord.py tasks running a view item's or modal's callback for this interaction."""
    found = []
    for task in asyncio.all_tasks():
        if not task.get_name().startswith("discord-ui-"):
            continue
        frame = getattr(task.get_coro(), "cr_frame", None)
        interaction = frame.f_locals.get("interaction") if frame is not None else None
        if isinstance(interaction, discord.Interaction) and interaction.id == interaction_id:
            found.append(task)
    return found


@dataclass
class RunningBot:
    bot: ThreadpaintBot
    task: asyncio.Task[None]
    tracker: CommandTracker

    @property
    def store(self) -> SqliteStore:
        store = self.bot.store
        assert isinstance(store, SqliteStore)
        return store


@dataclass
class Harness:
    discord: FakeDiscord
    openai: FakeOpenAI
    tmp_path: Path
    env: dict[str, str] = field(default_factory=dict)
    running: list[RunningBot] = field(default_factory=list)
    clients: list[openai.AsyncOpenAI] = field(default_factory=list)

    def settings(self, **overrides: str) -> Settings:
        env = {
            "DISCORD_TOKEN": self.discord.token,
            "OPENAI_API_KEY": self.openai.api_key,
            "OPENAI_BASE_URL": self.openai.base_url,
            "DISCORD_API_BASE_URL": self.discord.api_base,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_URL": f"sqlite:///{self.tmp_path / 'threadpaint.db'}",
            "HEALTH_FILE": str(self.tmp_path / "threadpaint.health"),
            "OPENAI_MODEL": "gpt-5.4-mini",
            "PARTIAL_IMAGES": "2",
            "PREVIEW_INTERVAL": "0",
            **self.env,
            **overrides,
        }
        return Settings.from_env(env)

    async def start_bot(self, *, sleep: Callable[[float], Awaitable[None]] | None = None,
                        freeze_heap_when_ready: bool = False, **overrides: str) -> RunningBot:
        settings = self.settings(**overrides)
        # The tests' SDK validates every event the fake streams against the SDK's own types.
        client = ImageStreamingOpenAI(
            api_key=settings.openai_api_key.get(), base_url=settings.openai_base_url, max_retries=0,
            timeout=openai.Timeout(10.0, connect=5.0), _strict_response_validation=True,
            # the production transport
            http_client=openai_http_client(settings.max_concurrent_jobs + SPARE_CONNECTIONS),
        )
        self.clients.append(client)
        bot = ThreadpaintBot(settings, openai_client=client, guild_ready_timeout=0.05, sleep=sleep or asyncio.sleep,
                             freeze_heap_when_ready=freeze_heap_when_ready)
        task = asyncio.create_task(bot.start(settings.discord_token.get()), name="threadpaint-under-test")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task.done():
                task.result()
            raise TimeoutError("bot did not become ready")
        running = RunningBot(bot, task, CommandTracker(bot))
        self.running.append(running)
        return running

    async def stop_bot(self, running: RunningBot) -> None:
        await running.bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running.task, 10)
        self.running.remove(running)

    async def command(
        self, running: RunningBot, name: str, options: dict[str, Any] | None = None, **kwargs: Any
    ) -> FakeInteraction:
        """Invoke a slash command and wait until the bot has finished handling it."""
        interaction = await self.discord.invoke_slash(name, options, **kwargs)
        await running.tracker.wait(interaction.id)
        return interaction

    async def close(self) -> None:
        for running in list(self.running):
            await self.stop_bot(running)
        for client in self.clients:
            await client.close()
