"""Command line: `python -m bench [--jobs 1,10,50,200] [--partials 2] [--pace-ms 1000] [--out FILE] [--quick]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench.chart import write_chart
from bench.report import render
from bench.runner import BenchOptions, run


def _jobs(text: str) -> list[int]:
    try:
        jobs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not jobs or min(jobs) < 1:
        raise argparse.ArgumentTypeError("every job count must be at least 1")
    return jobs


def parse(argv: list[str] | None = None) -> BenchOptions:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the real bot against the fake OpenAI and fake Discord with realistic payloads; "
        "print a markdown table and write the figures as JSON and as a chart (PNG) beside it.",
    )
    parser.add_argument("--jobs", type=_jobs, default=None, help="concurrent jobs per run (default 1,10,50,200)")
    parser.add_argument("--partials", type=int, choices=range(4), default=2, help="previews per image (default 2)")
    parser.add_argument("--pace-ms", type=float, default=None,
                        help="milliseconds between two image events of a generation (default 1000)")
    parser.add_argument("--image-bytes", type=int, default=2_000_000, help="encoded size of each image (2 MB)")
    parser.add_argument("--ceiling-jobs", type=int, default=None, help="jobs in the throughput-ceiling run (200)")
    parser.add_argument("--fakes", choices=("process", "inprocess"), default="process",
                        help="run the fakes in a child process (default) or in the bot's own event loop")
    parser.add_argument("--burst", action="store_true",
                        help="start each run's jobs at the same instant (default: evenly over one generation time)")
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"), help="JSON results file")
    parser.add_argument("--quick", action="store_true",
                        help="about ten seconds: 1 and 2 jobs, 768×512 0.5 MB images, short pacing (smoke test)")
    args = parser.parse_args(argv)
    options = BenchOptions(partials=args.partials, image_bytes=args.image_bytes, fakes=args.fakes, out=args.out,
                           quick=args.quick, burst=args.burst)
    if args.quick:
        # A smaller payload (768×512, 0.5 MB) keeps start-up (encoding the fake's images) short.
        options.jobs, options.pace_ms, options.ceiling_jobs = [1, 2], 60.0, 2
        options.image_bytes, options.pixel_scale = min(args.image_bytes, 500_000), 0.5
        options.floor_runs, options.first_pixel_runs, options.timeout = 1, 1, 60.0
    if args.jobs is not None:
        options.jobs = args.jobs
    if args.pace_ms is not None:
        options.pace_ms = args.pace_ms
    if args.ceiling_jobs is not None:
        options.ceiling_jobs = args.ceiling_jobs
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    result = asyncio.run(run(options))
    options.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    chart = options.out.with_suffix(".png")
    write_chart(result, chart)
    print(render(result))
    print(f"\nwrote {options.out} and {chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
