"""Clients the bot talks through, built from settings in one place."""

from __future__ import annotations

import discord
import openai
import yarl
from openai._streaming import SSEBytesDecoder, SSEDecoder

from bot.settings import Settings
from bot.sse import FastSSEDecoder


class ImageStreamingOpenAI(openai.AsyncOpenAI):
    """The SDK's client, reading streams with a decoder that handles multi-megabyte image events cheaply."""

    def _make_sse_decoder(self) -> SSEDecoder | SSEBytesDecoder:
        return FastSSEDecoder()


def build_openai_client(settings: Settings) -> openai.AsyncOpenAI:
    # No SDK retries: a retried POST after a timeout can be a second billed image (no idempotency keys).
    return ImageStreamingOpenAI(
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
