"""Fixtures: the fake Discord, the fake OpenAI, and the real bot running against both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.harness import Harness
from tests.postgres import postgres_server  # noqa: F401 - a session fixture for every test folder


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    """The bot points discord.py's class-level URLs at its settings; put them back after each test."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake
        assert fake.validation_errors == [], "the bot sent a request the OpenAI spec rejects"


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
        assert fake.unhandled == [], "the bot called Discord routes the fake does not implement"
        assert fake.validation_errors == [], "the bot sent a request Discord's API description rejects"


@pytest.fixture
async def harness(fake_discord: FakeDiscord, fake_openai: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(fake_discord, fake_openai, tmp_path)
    try:
        yield h
    finally:
        await h.close()
