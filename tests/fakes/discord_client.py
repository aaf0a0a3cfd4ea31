"""Glue for driving an unmodified discord.py client against ``FakeDiscord`` in the fake's own tests.

The bot under test points itself at the fake from its settings; this helper exists so the fake's tests
need no bot code. Construct clients with ``guild_ready_timeout=0.05``, or every start costs 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_server import FakeDiscord


@contextlib.asynccontextmanager
async def running_client(fake: FakeDiscord, client: discord.Client, *,
                         ready_timeout: float = 5.0) -> AsyncIterator[discord.Client]:
    """Point discord.py at the fake, start ``client``, wait for on_ready; close and restore on exit."""
    saved_base, saved_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base  # read in Route.__init__, also by the interaction webhook adapter
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    task = asyncio.create_task(client.start(fake.token), name="fake-discord-client")
    try:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            if task.done():
                task.result()  # surfaces e.g. LoginFailure or a crashed gateway reader
            raise TimeoutError(f"client not ready within {ready_timeout}s; calls: "
                               f"{[(c.method, c.route, c.status) for c in fake.calls]}")
        yield client
    finally:
        await client.close()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved_base, saved_gateway
