"""Placeholder while the feature is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import ThreadpaintBot


async def setup(bot: ThreadpaintBot) -> None:
    return None
