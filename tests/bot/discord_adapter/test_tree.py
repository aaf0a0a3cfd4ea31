"""Unexpected errors in a command still end in a reply, never "This interaction failed"."""

import pytest

from bot.discord_adapter.tree import GENERIC
from tests.harness import Harness


async def test_unexpected_error_is_reported_to_the_member(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    running = await harness.start_bot()

    async def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(running.bot.service, "run", broken)
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "a cat"})
    await harness.discord.wait_for(lambda: interaction.id in running.tracker.errors, what="on_error")
    await harness.discord.wait_for(
        lambda: harness.discord.messages[interaction.original_message_id].content == f"❌ {GENERIC}", what="the reply"
    )
