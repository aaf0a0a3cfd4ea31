"""Two bot processes split the shards and share one PostgreSQL: limits stay exact, recovery stays in its lane.

Real `python -m bot` processes (SHARD_COUNT=2, SHARD_IDS=0 and 1) against the in-process fakes; the fake gateway
routes each server's events to the shard Discord would ((guild_id >> 22) % 2).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from bot.discord_adapter.surface import INTERRUPTED, interrupted_text
from bot.storage import PostgresStore
from tests.bot.test_crash import bot_process, responses_started
from tests.bot.test_process import process_env
from tests.fakes.discord_state import EPHEMERAL, FakeInteraction
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness
from tests.postgres import PostgresServer, fresh_database


@pytest.fixture
async def database_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    async with fresh_database(postgres_server) as url:
        yield url


def shard_env(database_url: str, shard: int, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SHARD_COUNT": "2", "SHARD_IDS": str(shard), **extra}


@asynccontextmanager
async def started_together(
    harness: Harness, *envs: dict[str, str]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, ...]]:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=harness.tmp_path, env={**process_env(harness), **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        for env in envs
    ]
    try:
        await harness.discord.wait_for(lambda: len(harness.discord.gateway.identifies) >= len(envs), timeout=40,
                                       what="every process to connect")
        yield tuple(processes)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.communicate()


def refusal(harness: Harness, interaction: FakeInteraction) -> str | None:
    """The private message a refused command got (as its own response, or as a followup after a deferral)."""
    ids = [i for i in [interaction.original_message_id, *interaction.followup_ids] if i is not None]
    for message_id in ids:
        message = harness.discord.messages[message_id]
        if message.flags & EPHEMERAL and not message.deleted:
            return message.content
    return None


async def test_two_processes_share_one_members_budget_exactly(harness: Harness, database_url: str) -> None:
    fake = harness.discord
    guild0, channel0 = fake.add_guild("Shard zero", shard=(0, 2))
    guild1, channel1 = fake.add_guild("Shard one", shard=(1, 2))
    limits = {"BUDGET_USER_DAILY_USD": "0.10", "MAX_JOBS_PER_USER": "20", "PARTIAL_IMAGES": "0"}
    # A low 1024x1024 without previews is estimated at 4,000 x 0.25 + 1,000 x 2 + 200 x 10 + 272 x 40 = 15,880
    # micro-dollars: 100,000 // 15,880 = 6 fit in $0.10.
    fits = 6
    per_server = 4
    # More than one process's share fits, but not everything: each process must take some, and without a shared
    # budget the two would admit all 2 * per_server.
    assert per_server < fits < 2 * per_server
    for _ in range(2 * per_server):
        harness.openai.queue_script(ImageScript(event_delay=0.3))  # slow: every admission overlaps the others

    async with started_together(harness, shard_env(database_url, 0, **limits),
                                shard_env(database_url, 1, **limits)) as (first, second):
        # Started at the same moment, they still IDENTIFY 5 s apart, as Discord requires of one bot.
        assert len(fake.gateway.identified_at) == 2
        assert fake.gateway.identified_at[1] - fake.gateway.identified_at[0] >= 4.9
        await fake.wait_for(lambda: len(fake.gateway.sessions) >= 2 and all(
            s.dispatched("GUILD_CREATE") for s in fake.gateway.sessions.values()), timeout=30,
            what="both shards to receive their servers")
        by_shard = {s.shard: s for s in fake.gateway.sessions.values()}
        assert [g["id"] for g in by_shard[(0, 2)].dispatched("GUILD_CREATE")].count(str(guild0)) == 1
        assert str(guild1) not in [g["id"] for g in by_shard[(0, 2)].dispatched("GUILD_CREATE")]
        assert [g["id"] for g in by_shard[(1, 2)].dispatched("GUILD_CREATE")].count(str(guild1)) == 1

        draws = await asyncio.gather(*(
            fake.invoke_slash("draw", {"prompt": f"shared budget {i}", "quality": "low", "size": "1024x1024"},
                              channel_id=channel0 if i % 2 == 0 else channel1)
            for i in range(2 * per_server)
        ))
        def answered(draw: FakeInteraction) -> bool:
            """Refused, or the final image is on the reply."""
            if refusal(harness, draw):
                return True
            reply = fake.messages.get(draw.original_message_id or 0)
            return reply is not None and bool(reply.attachments) and bool(reply.embeds)

        await fake.wait_for(lambda: all(answered(d) for d in draws), timeout=60,
                            what="every job to finish or be refused")
        for process in (first, second):  # stopped first, so every turn the processes wrote is settled
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 15)
            assert process.returncode == 0
        store = await PostgresStore.open(database_url)
        try:
            turns = [await store.turn_for_interaction(d.id) for d in draws]
            spent = await store.spend(since=datetime(2000, 1, 1, tzinfo=UTC), user_id=fake.user_id)
        finally:
            await store.close()

        admitted = [t for t in turns if t is not None]
        refused = [refusal(harness, d) for d in draws if refusal(harness, d)]
        assert len(admitted) == fits  # not fits per process
        assert {t.guild_id for t in admitted} == {guild0, guild1}  # both processes took part
        assert len(refused) == len(draws) - fits
        assert all("daily image budget" in text for text in refused if text)
        assert spent <= 100_000
        assert sum(1 for r in harness.openai.requests if r.path == "/v1/responses") == fits
        # Each process answered only its own server's interactions.
        for session in fake.gateway.sessions.values():
            seen = {int(i["guild_id"]) for i in session.dispatched("INTERACTION_CREATE")}
            assert seen == ({guild0} if session.shard == (0, 2) else {guild1})


async def test_a_restarting_process_recovers_only_its_own_shards_jobs(harness: Harness, database_url: str) -> None:
    fake = harness.discord
    _, channel0 = fake.add_guild("Shard zero", shard=(0, 2))
    _, channel1 = fake.add_guild("Shard one", shard=(1, 2))
    harness.openai.queue_script(ImageScript(event_delay=0.5))  # shard 0's job: killed mid-stream
    # Shard 1's job keeps running until shard 0's restarted process has done its recovery.
    release = asyncio.Event()
    harness.openai.queue_script(ImageScript(hold_final=release))

    async with bot_process(harness, **shard_env(database_url, 1)) as other:
        async with bot_process(harness, **shard_env(database_url, 0)) as crashing:
            doomed = await fake.invoke_slash("draw", {"prompt": "on shard zero"}, channel_id=channel0)
            await fake.wait_for(lambda: responses_started(harness), timeout=10, what="shard 0's stream")
            survivor = await fake.invoke_slash("draw", {"prompt": "on shard one"}, channel_id=channel1)
            await fake.wait_for(
                lambda: sum(r.path == "/v1/responses" for r in harness.openai.requests) == 2, timeout=10,
                what="shard 1's stream",
            )
            crashing.kill()
            await crashing.wait()
        async with bot_process(harness, **shard_env(database_url, 0)) as restarted:
            await fake.wait_for(lambda: fake.messages[doomed.original_message_id].content.startswith(str(INTERRUPTED)),
                                timeout=20, what="shard 0's interrupted job to be reported")
            release.set()
            await fake.wait_for(lambda: bool(fake.messages[survivor.original_message_id].embeds), timeout=30,
                                what="shard 1's image")
            for process in (restarted, other):  # stopped first, so the turns they wrote are settled
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.communicate(), 15)
                assert process.returncode == 0
            store = await PostgresStore.open(database_url)
            try:
                turn = await store.turn_for_interaction(survivor.id)
                assert turn is not None and turn.status == "done"  # not "interrupted" by the restart
                final = fake.messages[survivor.original_message_id]
                # The image and its buttons, not an interruption.
                assert not final.content.startswith(str(INTERRUPTED)) and final.attachments and final.components
                killed = await store.turn_for_interaction(doomed.id)
                assert killed is not None and killed.status == "interrupted"
                assert fake.messages[doomed.original_message_id].content == str(interrupted_text(killed.cost_micros))
            finally:
                await store.close()
