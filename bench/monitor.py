"""What the bot process costs: event-loop lag, resident memory, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

TICK = 0.010  # the ticker asks to sleep this long; anything beyond is lag
RSS_EVERY = 5  # ticks between two resident-memory samples


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float], quantiles: Sequence[int] = (50, 95, 99)) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {"n": len(seconds)}
    for q in quantiles:
        value = percentile(seconds, q)
        out[f"p{q}"] = None if value is None else round(value * 1000, 2)
    out["max"] = round(max(seconds) * 1000, 2) if seconds else None
    return out


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def rss_mb() -> float:
    """Resident memory now (VmRSS), in MiB, from /proc/self/statm: the monitor samples it 20 times a second, and
    reading /proc/self/status instead cost the measured process about 13 ms of CPU per second."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_MB


def hwm_mb() -> float:
    """The resident high-water mark (VmHWM) since the last `reset_hwm`, in MiB."""
    return _status_kb("VmHWM") / 1024


def reset_hwm() -> None:
    """Start a new VmHWM window (writing 5 to clear_refs resets it; not allowed everywhere, then sampling only)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class LoopMonitor:
    """A 10 ms ticker on the bot's loop: its oversleep is the loop's lag; it also samples RSS."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.peak_rss = 0.0
        self.rss_samples: list[tuple[float, float]] = []  # (seconds since start, MB), for the chart
        self._started = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.lags, self.peak_rss = [], rss_mb()
        self._started = time.monotonic()
        self.rss_samples = [(0.0, self.peak_rss)]
        reset_hwm()
        self._task = asyncio.create_task(self._run(), name="bench-loop-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.peak_rss = max(self.peak_rss, hwm_mb(), rss_mb())

    @property
    def max_lag(self) -> float:
        return max(self.lags, default=0.0)

    async def _run(self) -> None:
        ticks = 0
        while True:
            start = time.monotonic()
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, time.monotonic() - start - TICK))
            ticks += 1
            if ticks % RSS_EVERY == 0:
                rss = rss_mb()
                self.peak_rss = max(self.peak_rss, rss)
                self.rss_samples.append((time.monotonic() - self._started, rss))
