"""Freed memory goes back to the system once a burst of jobs is over, not in the middle of one."""

from __future__ import annotations

import asyncio
import sys

from bot.memory import MemoryReleaser, glibc_trim


class Jobs:
    def __init__(self) -> None:
        self.running = 0
        self.trimmed = 0

    def idle(self) -> bool:
        return self.running == 0

    def trim(self) -> None:
        self.trimmed += 1


async def test_trims_once_after_the_last_job_of_a_burst() -> None:
    jobs = Jobs()
    releaser = MemoryReleaser(jobs.idle, jobs.trim, delay=0.05)
    jobs.running = 2
    releaser.job_ended()  # one of two ended: not idle, nothing to do
    jobs.running = 0
    for _ in range(3):  # the rest end close together: one trim, after the last
        releaser.job_ended()
        await asyncio.sleep(0.01)
    assert jobs.trimmed == 0
    await asyncio.sleep(0.15)
    assert jobs.trimmed == 1 and releaser.trims == 1


async def test_no_trim_when_a_new_job_started_meanwhile() -> None:
    jobs = Jobs()
    releaser = MemoryReleaser(jobs.idle, jobs.trim, delay=0.05)
    releaser.job_ended()
    jobs.running = 1
    await asyncio.sleep(0.15)
    assert jobs.trimmed == 0


async def test_a_failing_trim_is_only_logged() -> None:
    def broken() -> None:
        raise OSError("no")

    releaser = MemoryReleaser(lambda: True, broken, delay=0.01)
    releaser.job_ended()
    await asyncio.sleep(0.1)
    assert releaser.trims == 0


async def test_glibc_trim_is_found_where_there_is_glibc() -> None:
    trim = glibc_trim()
    if sys.platform.startswith("linux"):  # the bot's Docker image and CI
        assert trim is not None
        trim()
    else:
        assert trim is None
