"""Where discord.py sends its traffic: Discord itself, a Discord-compatible proxy, or the tests' fake."""

from __future__ import annotations

import discord
import yarl

from bot.settings import Settings


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured Discord (or Discord-compatible proxy)."""
    # discord.py reads both class attributes at request/connect time and offers no per-client option.
    discord.http.Route.BASE = settings.discord_api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
