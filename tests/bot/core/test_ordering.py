"""Jobs in one conversation run one after another; other conversations are not held up."""

import asyncio

from bot.core.ordering import ChainLocks
from tests.clock import settle


async def test_same_key_runs_in_arrival_order_and_reports_waiting() -> None:
    locks = ChainLocks()
    order: list[str] = []
    waited: list[str] = []
    release = asyncio.Event()

    async def job(name: str, hold: asyncio.Event | None) -> None:
        async def on_wait() -> None:
            waited.append(name)

        async with locks.hold(1, on_wait):
            order.append(f"start {name}")
            if hold is not None:
                await hold.wait()
            order.append(f"end {name}")

    first = asyncio.create_task(job("a", release))
    await settle(lambda: order == ["start a"])
    second = asyncio.create_task(job("b", None))
    await settle(lambda: waited == ["b"])
    assert order == ["start a"]  # b waits for a, however long a takes
    release.set()
    await asyncio.gather(first, second)
    assert order == ["start a", "end a", "start b", "end b"]
    assert waited == ["b"]
    assert not locks.busy(1)


async def test_different_keys_run_together() -> None:
    locks = ChainLocks()
    together = asyncio.Barrier(3)  # passes only once all three are inside at the same time

    async def job(key: int | None) -> None:
        async with locks.hold(key):
            await asyncio.wait_for(together.wait(), 5)

    await asyncio.gather(job(1), job(2), job(None))
