"""Crash safety with real processes: SIGKILL mid-stream, then a restart on the same database; SIGTERM mid-job."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.discord_adapter.surface import INTERRUPTED, interrupted_text
from bot.storage import SqliteStore
from tests.bot.test_process import process_env
from tests.fakes.discord_state import ORIGINAL
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness


@asynccontextmanager
async def bot_process(harness: Harness, **env: str) -> AsyncIterator[asyncio.subprocess.Process]:
    identifies = len(harness.discord.gateway.identifies)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=harness.tmp_path, env={**process_env(harness), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await harness.discord.wait_for(lambda: len(harness.discord.gateway.identifies) > identifies, timeout=30,
                                       what="the bot process to connect")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def open_db(harness: Harness) -> SqliteStore:
    return await SqliteStore.open(harness.tmp_path / "proc.db")


def responses_started(harness: Harness) -> bool:
    return any(r.path == "/v1/responses" for r in harness.openai.requests)


async def test_sigkill_mid_stream_then_restart_reports_the_interrupted_job(harness: Harness) -> None:
    harness.openai.queue_script(ImageScript(event_delay=0.3))
    async with bot_process(harness) as first:
        draw = await harness.discord.invoke_slash("draw", {"prompt": "a slow painting"})
        await harness.discord.wait_for(lambda: responses_started(harness), timeout=10, what="the stream to start")
        await harness.discord.wait_for(lambda: len(harness.discord.route_calls("PATCH", ORIGINAL)) >= 1,
                                       what="the status line")
        first.kill()  # SIGKILL: no handler runs
        await first.wait()
    store = await open_db(harness)
    try:
        turn = await store.turn_for_interaction(draw.id)
        assert turn is not None and turn.status == "running"  # left behind by the crash
    finally:
        await store.close()

    async with bot_process(harness) as second:
        await harness.discord.wait_for(
            lambda: harness.discord.messages[draw.original_message_id].content.startswith(str(INTERRUPTED)),
            timeout=15, what="the interrupted job to be reported",
        )
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.communicate(), 15)
        assert second.returncode == 0

    store = await open_db(harness)
    try:
        turn = await store.turn_for_interaction(draw.id)
        assert turn is not None and turn.status == "interrupted"
        # Started at OpenAI before the crash: charged the estimate held for it, and the member is told.
        assert harness.discord.messages[draw.original_message_id].content == str(interrupted_text(turn.cost_micros))
        assert await store.interrupt_unfinished() == []  # nothing stuck
        assert await store.pending_deliveries() == []
    finally:
        await store.close()


async def test_sigterm_mid_job_marks_it_interrupted_and_exits_cleanly(harness: Harness) -> None:
    harness.openai.queue_script(ImageScript(event_delay=1.0))
    async with bot_process(harness, SHUTDOWN_GRACE="0.5") as process:
        draw = await harness.discord.invoke_slash("draw", {"prompt": "never finished"})
        await harness.discord.wait_for(lambda: responses_started(harness), timeout=10, what="the stream to start")
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, output.decode()
    store = await open_db(harness)
    try:
        turn = await store.turn_for_interaction(draw.id)
        assert turn is not None and turn.status == "interrupted"
    finally:
        await store.close()
    # Once OpenAI started on it, the member is charged what was made and told so (issue 11).
    assert harness.discord.messages[draw.original_message_id].content == str(interrupted_text(turn.cost_micros))


async def test_sigterm_lets_a_nearly_done_job_finish(harness: Harness) -> None:
    harness.openai.queue_script(ImageScript(final_color=(0, 150, 255), event_delay=0.05))
    async with bot_process(harness, SHUTDOWN_GRACE="8") as process:
        draw = await harness.discord.invoke_slash("draw", {"prompt": "almost there"})
        await harness.discord.wait_for(lambda: responses_started(harness), timeout=10, what="the stream to start")
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, output.decode()
    reply = harness.discord.messages[draw.original_message_id]
    assert reply.attachments and reply.embeds
    store = await open_db(harness)
    try:
        turn = await store.turn_for_interaction(draw.id)
        assert turn is not None and turn.status == "done"
    finally:
        await store.close()
