"""Freed memory goes back to the system once a burst of jobs is over, not in the middle of one."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from bot.ops import memory
from bot.ops.memory import MemoryReleaser, glibc_trim
from tests.clock import FakeClock
from tests.harness import Harness


class Jobs:
    def __init__(self) -> None:
        self.running = 0
        self.trimmed = 0

    def idle(self) -> bool:
        return self.running == 0

    def trim(self) -> None:
        self.trimmed += 1


async def test_trims_once_after_the_last_job_of_a_burst() -> None:
    jobs, clock = Jobs(), FakeClock()
    releaser = MemoryReleaser(jobs.idle, jobs.trim, delay=1.0, call_later=clock.call_later)
    jobs.running = 2
    releaser.job_ended()  # one of two ended: not idle, nothing to do
    assert clock.timers == []
    jobs.running = 0
    for _ in range(3):  # the rest end close together: each restarts the wait, so one trim after the last
        releaser.job_ended()
        clock.advance(0.5)
    await releaser.wait()
    assert jobs.trimmed == 0
    clock.advance(0.5)  # a whole second after the last job ended
    await releaser.wait()
    assert jobs.trimmed == 1 and releaser.trims == 1


async def test_no_trim_when_a_new_job_started_meanwhile() -> None:
    jobs, clock = Jobs(), FakeClock()
    releaser = MemoryReleaser(jobs.idle, jobs.trim, delay=1.0, call_later=clock.call_later)
    releaser.job_ended()
    jobs.running = 1
    clock.advance(5.0)
    await releaser.wait()
    assert jobs.trimmed == 0


async def test_a_failing_trim_is_only_logged() -> None:
    def broken() -> None:
        raise OSError("no")

    clock = FakeClock()
    releaser = MemoryReleaser(lambda: True, broken, delay=1.0, call_later=clock.call_later)
    releaser.job_ended()
    clock.advance(1.0)
    await releaser.wait()
    assert releaser.trims == 0


async def test_glibc_trim_is_found_where_there_is_glibc() -> None:
    trim = glibc_trim()
    if sys.platform.startswith("linux"):  # the bot's Docker image and CI
        assert trim is not None
        trim()
    else:
        assert trim is None


def test_freeze_heap_collects_first_then_freezes_what_is_alive() -> None:
    calls: list[str] = []
    memory.freeze_heap(collect=lambda: calls.append("collect"), freeze=lambda: calls.append("freeze"))
    assert calls == ["collect", "freeze"]
    # And the real thing: what is alive then is out of the collector's generations.
    try:
        memory.freeze_heap()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


async def test_the_bot_freezes_its_heap_once_ready_and_recovered_only_when_asked(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[str] = []
    # Not the real freeze: this test process starts hundreds of bots; each one's objects would stay for good.
    monkeypatch.setattr("bot.app.freeze_heap", lambda: frozen.append("frozen"))
    running = await harness.start_bot(freeze_heap_when_ready=True)
    await asyncio.wait_for(running.bot.recovered.wait(), 10)
    assert frozen == ["frozen"]
    other = await harness.start_bot()
    await asyncio.wait_for(other.bot.recovered.wait(), 10)
    assert frozen == ["frozen"]


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_glibc_is_asked_to_keep_image_sized_blocks_and_its_heap_until_trimmed() -> None:
    libc = FakeLibc()
    assert memory.keep_image_buffers({}, libc) is True
    # M_MMAP_THRESHOLD (-3) to 32 MiB, M_TRIM_THRESHOLD (-1) to 256 MiB
    assert libc.calls == [(-3, 33_554_432), (-1, 268_435_456)]


def test_an_owners_own_malloc_settings_are_left_alone() -> None:
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        libc = FakeLibc()
        assert memory.keep_image_buffers({name: "1"}, libc) is False
        assert libc.calls == []


def test_a_libc_without_mallopt_is_no_error() -> None:
    assert memory.keep_image_buffers({}, object()) is False
