"""Run one generation against OpenAI and yield typed updates."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import openai

from bot.core.errors import ImageError, from_openai
from bot.core.stream import translate
from bot.core.updates import Update

log = logging.getLogger(__name__)


class OpenAIImageEngine:
    """The only place that calls `responses.create`."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    async def generate(self, body: dict[str, Any]) -> AsyncGenerator[Update, None]:
        requested_format = body["tools"][0].get("output_format", "png")
        try:
            stream = await self._client.responses.create(**body)
            async with stream:
                async for update in translate(stream, requested_format=requested_format):
                    yield update
        except ImageError:
            raise
        except openai.OpenAIError as exc:
            error = from_openai(exc)
            log.warning("openai error: %s (%s)", type(exc).__name__, error)
            raise error from exc
