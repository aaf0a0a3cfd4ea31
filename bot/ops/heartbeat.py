"""A health file the running bot rewrites every few seconds, so `python -m bot health` works without a port.

Docker's HEALTHCHECK runs `python -m bot health` in the container. With METRICS_PORT set it asks /healthz; without
it (the default) there is nothing to ask over the network, so the bot writes what /healthz would answer, with the
time, to HEALTH_FILE, and the probe reads it: unhealthy when the file is missing, stale or says a check failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 10.0
# Several missed beats before the probe calls it: a busy loop may delay one, a hung or dead bot misses them all.
STALE_AFTER = 6 * INTERVAL


class Heartbeat:
    """Writes `{"time": …, "gateway": …, "database": …}` to `path` every INTERVAL seconds; removes it on stop."""

    def __init__(self, path: Path, health: Callable[[], Awaitable[dict[str, bool]]],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._health = health
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        record = {"time": self._clock(), "pid": os.getpid(), **await self._health()}
        await asyncio.to_thread(_write_atomically, self.path, json.dumps(record))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
            except OSError as exc:  # a full or read-only disk must not stop the bot; the probe will say unhealthy
                log.warning("cannot write the health file %s: %s", self.path, exc.strerror or exc)
            await asyncio.sleep(INTERVAL)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)  # the probe never reads half a file


def read_heartbeat(path: Path, now: float) -> tuple[bool, str]:
    """(healthy, one line for the operator) from the health file the running bot writes."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        age = now - float(record["time"])
    except FileNotFoundError:
        return False, f"no health file at {path.absolute()} (is the bot running in this folder?)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"unreadable health file {path.absolute()}: {exc}"
    if age > STALE_AFTER:
        return False, f"the bot last reported {age:.0f} s ago (expected every {INTERVAL:g} s)"
    checks = {name: value for name, value in record.items() if isinstance(value, bool)}
    failing = [name for name, ok in checks.items() if not ok]
    if failing or not checks:
        return False, "not ready: " + ", ".join(f"{name} down" for name in failing or ["gateway"])
    return True, json.dumps(checks)
