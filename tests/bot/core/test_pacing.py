"""Preview pacing: newest wins, stale previews are dropped, nothing lands after close()."""

import asyncio

from bot.core.pacing import PreviewPacer


async def test_sends_immediately_then_paces_and_keeps_newest() -> None:
    sent: list[int] = []

    async def send(item: int) -> None:
        sent.append(item)

    pacer = PreviewPacer(send, interval=0.2)
    pacer.offer(1)
    await asyncio.sleep(0.02)
    pacer.offer(2)
    pacer.offer(3)  # supersedes 2 while the interval is still running
    await asyncio.sleep(0.3)
    await pacer.close()
    assert sent == [1, 3]
    assert pacer.dropped == 1


async def test_close_drops_pending_and_waits_for_in_flight() -> None:
    sent: list[int] = []
    release = asyncio.Event()

    async def send(item: int) -> None:
        await release.wait()
        sent.append(item)

    pacer = PreviewPacer(send, interval=10)
    pacer.offer(1)
    await asyncio.sleep(0.01)
    pacer.offer(2)
    closing = asyncio.create_task(pacer.close())
    await asyncio.sleep(0.01)
    assert not closing.done()  # waits for the in-flight send so it can't land after the final image
    release.set()
    await closing
    assert sent == [1]


async def test_zero_interval_sends_every_preview() -> None:
    sent: list[int] = []

    async def send(item: int) -> None:
        sent.append(item)
        await asyncio.sleep(0)

    pacer = PreviewPacer(send, interval=0)
    for i in range(3):
        pacer.offer(i)
        await asyncio.sleep(0.01)
    await pacer.close()
    assert sent == [0, 1, 2]


async def test_failed_send_does_not_stop_pacing() -> None:
    sent: list[int] = []

    async def send(item: int) -> None:
        if item == 0:
            raise RuntimeError("discord hiccup")
        sent.append(item)

    pacer = PreviewPacer(send, interval=0)
    pacer.offer(0)
    await asyncio.sleep(0.01)
    pacer.offer(1)
    await asyncio.sleep(0.01)
    await pacer.close()
    assert sent == [1]
