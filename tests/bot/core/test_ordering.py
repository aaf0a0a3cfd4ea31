"""Jobs in one conversation run one after another; other conversations are not held up."""

import asyncio

from bot.core.ordering import ChainLocks


async def test_same_key_runs_in_arrival_order_and_reports_waiting() -> None:
    locks = ChainLocks()
    order: list[str] = []
    waited: list[str] = []

    async def job(name: str, hold: float) -> None:
        async def on_wait() -> None:
            waited.append(name)

        async with locks.hold(1, on_wait):
            order.append(f"start {name}")
            await asyncio.sleep(hold)
            order.append(f"end {name}")

    first = asyncio.create_task(job("a", 0.05))
    await asyncio.sleep(0)
    second = asyncio.create_task(job("b", 0))
    await asyncio.gather(first, second)
    assert order == ["start a", "end a", "start b", "end b"]
    assert waited == ["b"]
    assert not locks.busy(1)


async def test_different_keys_run_together() -> None:
    locks = ChainLocks()
    inside = 0
    peak = 0

    async def job(key: int) -> None:
        nonlocal inside, peak
        async with locks.hold(key):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(job(1), job(2), job(None))  # type: ignore[arg-type]
    assert peak == 3
