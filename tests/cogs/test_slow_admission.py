"""Discord's 3-second acknowledgement never waits on a slow database (admission under load).

The database is held by hand: each test sees the acknowledgement while admission is still blocked, then lets go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness, RunningBot


def held_admission(monkeypatch: pytest.MonkeyPatch, running: RunningBot) -> tuple[asyncio.Event, list[int | None]]:
    """Make the store's admission transaction wait until the returned event is set; lists what it returned."""
    release = asyncio.Event()
    finished: list[int | None] = []
    admit: Callable[..., Awaitable[int | None]] = running.store.create_turn

    async def held(*args: Any, **kwargs: Any) -> int | None:
        await release.wait()
        finished.append(await admit(*args, **kwargs))
        return finished[-1]

    monkeypatch.setattr(running.store, "create_turn", held)
    return release, finished


async def acked_while_held(harness: Harness, interaction: FakeInteraction, finished: list[int | None]) -> None:
    await harness.discord.wait_for(lambda: interaction.ack_type is not None, what="the acknowledgement")
    assert finished == []  # answered while the database was still busy admitting


def responses_requests(harness: Harness) -> list[dict[str, Any]]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def test_slow_admission_is_deferred_in_time_and_the_job_still_completes(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await harness.start_bot()
    release, finished = held_admission(monkeypatch, running)
    harness.openai.queue_script(ImageScript(final_color=(30, 140, 220), partial_colors=[(90, 90, 90)]))

    draw = await harness.discord.invoke_slash("draw", {"prompt": "a lighthouse at dusk"})
    await acked_while_held(harness, draw, finished)
    release.set()
    await running.tracker.wait(draw.id)

    assert draw.ack_type == 5 and not draw.ephemeral
    assert len(finished) == 1
    reply = harness.discord.messages[draw.original_message_id]
    assert not reply.deleted and reply.embeds
    assert decode(reply.attachments[0].data).center[:3] == (30, 140, 220)
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.status == "done" and turn.reply_message_id == reply.id


async def test_a_slow_refusal_still_ends_private_and_costs_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    settings = await running.store.get_guild_settings(fd.guild_id)
    await running.store.set_guild_settings(fd.guild_id, replace(settings, user_daily_micros=0), fd.user_id)
    release, finished = held_admission(monkeypatch, running)

    draw = await fd.invoke_slash("draw", {"prompt": "a lighthouse at dusk"})
    await acked_while_held(harness, draw, finished)
    release.set()
    await running.tracker.wait(draw.id)

    assert draw.ack_type == 5  # deferred publicly while admission was still running
    assert fd.messages[draw.original_message_id].deleted  # ... and that public reply was taken away
    [private] = [fd.messages[i] for i in draw.followup_ids]
    assert private.ephemeral and "daily image budget" in private.content
    assert responses_requests(harness) == []
    assert await running.store.turn_for_interaction(draw.id) is None  # refused: nothing held, nothing billed


async def test_a_slow_reroll_on_the_opening_message_is_deferred_privately_and_posts_in_the_thread(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    thread_id = draw.original_message_id
    release, finished = held_admission(monkeypatch, running)

    reroll = await fd.invoke_component(draw.original_message_id, f"tp:reroll:{turn.id}")
    await acked_while_held(harness, reroll, finished)
    release.set()
    await running.tracker.wait_any(reroll.id)

    # The result goes to the thread, so the channel only ever saw a private "thinking…", then the private note.
    assert reroll.ack_type == 5 and reroll.ephemeral
    note = fd.messages[reroll.original_message_id]
    assert note.ephemeral and not note.loading and f"<#{thread_id}>" in note.content
    in_thread = [m for m in fd.messages.values() if m.channel_id == thread_id and m.attachments]
    assert len(in_thread) == 1 and decode(in_thread[0].attachments[0].data).format == "PNG"
    assert len(responses_requests(harness)) == 2
