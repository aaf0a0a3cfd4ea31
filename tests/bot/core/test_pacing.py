"""Preview pacing: newest wins, stale previews are dropped, nothing lands after close()."""

import asyncio
import gc
import weakref

from bot.core.pacing import PreviewPacer
from tests.clock import FakeClock, settle


async def test_sends_immediately_then_paces_and_keeps_newest() -> None:
    sent: list[int] = []
    clock = FakeClock()

    async def send(item: int) -> None:
        sent.append(item)

    pacer = PreviewPacer(send, interval=0.2, clock=clock.now, sleep=clock.sleep)
    pacer.offer(1)
    await settle(lambda: sent == [1])
    assert clock.slept == []  # the first preview goes out at once
    clock.advance(0.05)
    pacer.offer(2)
    pacer.offer(3)  # supersedes 2 while the interval is still running
    await settle(lambda: len(sent) == 2)
    await pacer.close()
    assert sent == [1, 3]
    assert pacer.dropped == 1
    assert [round(s, 6) for s in clock.slept] == [0.15]  # only the rest of the interval


async def test_close_drops_pending_and_waits_for_in_flight() -> None:
    sent: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def send(item: int) -> None:
        started.set()
        await release.wait()
        sent.append(item)

    clock = FakeClock()
    pacer = PreviewPacer(send, interval=10, clock=clock.now, sleep=clock.sleep)
    pacer.offer(1)
    await started.wait()
    pacer.offer(2)
    closing = asyncio.create_task(pacer.close())
    await settle()
    assert not closing.done()  # waits for the in-flight send so it can't land after the final image
    release.set()
    await closing
    assert sent == [1]
    assert pacer.dropped == 1


async def test_zero_interval_sends_every_preview() -> None:
    sent: list[int] = []
    clock = FakeClock()

    async def send(item: int) -> None:
        sent.append(item)

    pacer = PreviewPacer(send, interval=0, clock=clock.now, sleep=clock.sleep)
    for i in range(3):
        pacer.offer(i)
        await settle(lambda i=i: sent[-1:] == [i])
    await pacer.close()
    assert sent == [0, 1, 2]
    assert clock.slept == []


async def test_failed_send_does_not_stop_pacing() -> None:
    sent: list[int] = []
    tried: list[int] = []
    clock = FakeClock()

    async def send(item: int) -> None:
        tried.append(item)
        if item == 0:
            raise RuntimeError("discord hiccup")
        sent.append(item)

    pacer = PreviewPacer(send, interval=0, clock=clock.now, sleep=clock.sleep)
    pacer.offer(0)
    await settle(lambda: tried == [0])
    pacer.offer(1)
    await settle(lambda: sent == [1])
    await pacer.close()
    assert sent == [1]


class Preview:
    """Stands in for a preview of megabytes: only its liveness matters here."""


async def test_a_sent_preview_is_not_kept_while_waiting_for_the_next() -> None:
    # A job waits a second or more between previews; holding the last one meanwhile is megabytes per job.
    sent: list[weakref.ref[Preview]] = []
    clock = FakeClock()

    async def send(item: Preview) -> None:
        sent.append(weakref.ref(item))

    pacer: PreviewPacer[Preview] = PreviewPacer(send, interval=0.1, clock=clock.now, sleep=clock.sleep)
    pacer.offer(Preview())
    await settle(lambda: len(sent) == 1)
    await settle()  # the pacer is back to waiting for the next offer
    gc.collect()
    assert sent[0]() is None, "the pacer still holds the preview it sent"
    await pacer.close()
