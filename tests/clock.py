"""A clock the tests move by hand, so timing behaviour is checked without real waiting.

`now()` is the time, `sleep()` moves it forward (yielding once to the loop, as a real sleep would), and
`call_later()` / `advance()` stand in for the event loop's timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Timer:
    when: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    time: float = 1000.0
    slept: list[float] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(self.time + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing the timers that fall due, in order."""
        self.time += seconds
        for timer in sorted(self.timers, key=lambda t: t.when):
            if timer.when <= self.time and not timer.cancelled:
                timer.cancelled = True
                timer.callback()
        self.timers = [t for t in self.timers if not t.cancelled]


async def settle(condition: Callable[[], bool] | None = None, turns: int = 100) -> None:
    """Let the loop run ready tasks (no time passes) until `condition` holds, or a bounded number of turns."""
    for _ in range(turns):
        if condition is not None and condition():
            return
        await asyncio.sleep(0)
    if condition is not None:
        assert condition(), "condition did not hold after the loop settled"
