"""Where the bot's CPU goes during a bench run: a summary of a py-spy profile in its raw (collapsed-stack) format.

    py-spy record -r 400 --nonblocking --format raw -o profile.txt -- python -m bench --jobs 50,50,50
    python -m bench.spy profile.txt [--top 40]

py-spy samples every thread, including those that only wait; stacks that end waiting (the event loop's poll, an
idle worker thread's queue) and the bench's own work (start-up, floor, first-pixels runs, the chart) are left
out, so the shares are of the bot's busy time while jobs ran. A frame counts once per sample however deep it
recurs ("inclusive"); "self" is time in the frame itself.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# A sample whose stack contains one of these is not the bot working on jobs (imports happen once, at start-up).
_NOT_JOBS = ("Bench.first_pixels", "Bench.floor", "Bench.start", "write_chart", "_find_and_load",
             "Bench.level (bench/runner.py:185)")
# A sample whose innermost frame is one of these is a thread waiting, not working.
_WAITING = ("EpollSelector.select", "_connection_worker_thread (aiosqlite/core.py:59)",
            "_worker (concurrent/futures/thread.py:81)", "Condition.wait", "SimpleQueue.get")
_LINE = re.compile(r":\d+\)$")


def busy_samples(lines: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(mark in stack for mark in _NOT_JOBS) or any(frames[-1].startswith(w) for w in _WAITING):
            continue
        yield frames, int(count)


def summarize(lines: Iterable[str], top: int = 40) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, count in busy_samples(lines):
        total += count
        own[_LINE.sub(")", frames[-1])] += count
        for frame in {_LINE.sub(")", f) for f in frames}:
            inclusive[frame] += count
    if not total:
        return "no busy samples"
    out = [f"{total} busy samples", "", "| inclusive | self | frame |", "|---:|---:|---|"]
    for frame, count in sorted(inclusive.items(), key=lambda item: (-item[1], item[0])):
        if len(out) - 4 >= top:
            break
        if frame.startswith(("<module>", "main (", "run (", "Handle._run", "BaseEventLoop", "_run_module", "_run_code",
                             "Thread.", "_WorkItem.run", "Runner.run")):
            continue  # every busy sample's ancestors: they say nothing
        out.append(f"| {count / total:5.1%} | {own[frame] / total:5.1%} | `{frame}` |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spy", description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output (--format raw)")
    parser.add_argument("--top", type=int, default=40, help="frames to list (40)")
    args = parser.parse_args(argv)
    with args.profile.open(encoding="utf-8") as lines:
        print(summarize(lines, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
