"""Giving memory back to the operating system once a burst of jobs is over.

Every image passes through several multi-megabyte buffers. glibc's allocator keeps freed ones for reuse and, with
the heap fragmented by a burst, returned almost none: after 200 jobs at once the bot stayed at about 1.8 GB while
idle. `malloc_trim` hands the free pages back (about 120 MB remained), so it runs after jobs, once none is left.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

# After the last job ends, wait this long for the next one before trimming: a trim of a big heap takes a worker
# thread 0.1-0.2 s and briefly holds the allocator's locks, so it should not run between the jobs of a burst.
IDLE_SECONDS = 1.0

Trim = Callable[[], None]


def freeze_heap(collect: Callable[[], object] = gc.collect, freeze: Callable[[], None] = gc.freeze) -> None:
    """Once started: collect, then move every object alive into the garbage collector's permanent generation.

    The ~220,000 objects of a started bot (modules, the SDKs' pydantic schemas, discord.py's caches) live as long
    as the process, yet each full collection walked them all: in a 200-job burst 5 such collections stalled the
    event loop 100-210 ms each. Frozen, they are skipped; what jobs create is still collected. Collecting first
    keeps start-up garbage out of the permanent generation (it would never be freed).
    """
    collect()
    freeze()
    log.info("start-up objects frozen out of garbage collection: %d", gc.get_freeze_count())


def _libc() -> Any:
    """The process's C library on Linux (glibc's extras may still be missing: check for them), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


# mallopt's parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# Every image passes through several 2-3 MB buffers (the event's text, the base64 slice, the decoded bytes). By
# default glibc gives each such block its own fresh pages (mmap) until frees raise its threshold, and returns
# freed heap tops at once, so the next image faults the pages in again: about 3,000 page faults a job at 50 jobs.
# Blocks up to 32 MB from the heap, and a heap that shrinks only when MemoryReleaser trims it after a burst, bring
# that to about 40 (and 3-5 ms of CPU a job) with the same peak.
KEEP_BLOCKS_UP_TO = 32 * 1024 * 1024
KEEP_FREE_HEAP_UP_TO = 256 * 1024 * 1024
# An owner's own malloc settings (glibc reads these at start) win.
_OWNERS_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_image_buffers(environ: Mapping[str, str], libc: Any = None) -> bool:
    """Have glibc reuse freed image-sized blocks instead of unmapping them (see KEEP_BLOCKS_UP_TO).

    Returns whether it did: not where the libc is not glibc, nor when the owner tuned malloc themselves.
    """
    if any(name in environ for name in _OWNERS_SETTINGS):
        return False
    mallopt = getattr(libc if libc is not None else _libc(), "mallopt", None)
    if mallopt is None:  # e.g. musl (Alpine)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREE_HEAP_UP_TO))


class Cancellable(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Cancellable]


def loop_call_later(delay: float, callback: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, callback)


def glibc_trim() -> Trim | None:
    """`malloc_trim(0)` of glibc, or None where there is none (another libc, another OS)."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)  # e.g. musl (Alpine) has no malloc_trim
    if malloc_trim is None:
        return None
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int

    def trim() -> None:
        malloc_trim(0)

    return trim


class MemoryReleaser:
    """Trims the heap in a worker thread when no job has been running for IDLE_SECONDS."""

    def __init__(self, idle: Callable[[], bool], trim: Trim | None = None, delay: float = IDLE_SECONDS,
                 call_later: CallLater = loop_call_later) -> None:
        self._idle = idle
        self._trim = trim if trim is not None else glibc_trim()
        self._delay = delay
        self._call_later = call_later
        self._timer: Cancellable | None = None
        self._task: asyncio.Task[None] | None = None
        self.trims = 0

    def job_ended(self) -> None:
        """Call when a job ends: (re)starts the wait, so only the end of a burst leads to a trim."""
        if self._trim is None or not self._idle():
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._call_later(self._delay, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._idle() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="malloc-trim")

    async def wait(self) -> None:
        """Until a trim that has started is over (for tests and shutdown)."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        assert self._trim is not None
        try:
            await asyncio.to_thread(self._trim)
        except Exception:
            log.warning("could not return freed memory to the system", exc_info=True)
            return
        self.trims += 1
