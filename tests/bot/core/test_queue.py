"""The fair queue: a global limit, FIFO per server, round-robin between servers, live positions."""

import asyncio

from bot.core.queue import FairQueue


async def test_limit_is_never_exceeded_and_all_jobs_run() -> None:
    queue = FairQueue(limit=2)
    inside = peak = done = 0

    async def job(key: str) -> None:
        nonlocal inside, peak, done
        async with queue.slot(key):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)  # one turn of the loop: the others get their chance to enter
            inside -= 1
            done += 1

    await asyncio.gather(*(job(f"g{i % 3}") for i in range(12)))
    assert peak == 2 and done == 12 and queue.running == 0 and queue.waiting == 0


async def test_busy_server_cannot_starve_the_others() -> None:
    queue = FairQueue(limit=1)
    started: list[str] = []
    release = asyncio.Event()

    async def job(name: str, key: str) -> None:
        async with queue.slot(key):
            started.append(name)
            await release.wait()

    blocker = asyncio.create_task(job("first", "busy"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(job(f"busy{i}", "busy")) for i in range(4)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(job("quiet", "quiet")))
    await asyncio.sleep(0)
    assert [w.key for w in queue.order()] == ["busy", "quiet", "busy", "busy", "busy"]
    release.set()
    await asyncio.gather(blocker, *tasks)
    assert started.index("quiet") == 2  # served right after one more of the busy server's jobs


async def test_positions_are_announced_and_updated() -> None:
    queue = FairQueue(limit=1)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    release = asyncio.Event()

    async def job(name: str) -> None:
        async with queue.slot(name, seen[name].append if name in seen else None):
            await release.wait()

    first = asyncio.create_task(job("x"))
    await asyncio.sleep(0)
    a = asyncio.create_task(job("a"))
    await asyncio.sleep(0)
    b = asyncio.create_task(job("b"))
    await asyncio.sleep(0)
    assert seen == {"a": [1], "b": [2]}
    release.set()
    await asyncio.gather(first, a, b)
    assert seen["b"] == [2, 1]  # moved up when "a" got its slot


async def test_cancelled_waiter_leaves_the_line() -> None:
    queue = FairQueue(limit=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with queue.slot("k"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert queue.waiting == 1
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert queue.waiting == 0
    release.set()
    await holder
    assert queue.running == 0
