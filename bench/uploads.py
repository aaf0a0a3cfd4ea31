"""`python -m bench.uploads [--count 8] [--side N]`: peak memory and wall time of concurrent worst-case uploads.

The worst case is the largest image the bot accepts, saved as a flat PNG: a few hundred kB on the wire that decode to
the full pixel cap. Each upload goes through the bot's own decoding path (its decoder, with its limit on decodes at
once, or `prepare_input_image` where a version has none), all started together as when that many jobs with an
attachment get a slot at once (`MAX_CONCURRENT_JOBS` is 8). The decoding runs in a fresh child process, so its peak
RSS is the decoding's alone (plus the interpreter and Pillow), not the cost of making the test image.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def worst_case_png(side: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), (250, 250, 250)).save(out, "PNG")
    return out.getvalue()


async def _decode_all(data: bytes, count: int) -> tuple[float, int]:
    from bot.core import images

    decoder = getattr(images, "InputDecoder", None)
    prepare = decoder().prepare if decoder is not None else images.prepare_input_image
    start = time.perf_counter()
    results = await asyncio.gather(*(prepare(data) for _ in range(count)), return_exceptions=True)
    return time.perf_counter() - start, sum(not isinstance(r, BaseException) for r in results)


def _peak_rss_kb() -> int:
    """The process's peak RSS since the last reset (VmHWM), else since it started (ru_maxrss, kB on Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak_rss() -> None:
    # A forked child starts with its parent's peak; "5" resets the high-water mark to the current RSS (Linux).
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _child(path: str, count: int) -> None:
    from bot.core import images  # noqa: F401 - imported before the baseline, as in the running bot

    data = Path(path).read_bytes()
    _reset_peak_rss()
    before = _peak_rss_kb()
    wall, accepted = asyncio.run(_decode_all(data, count))
    peak = _peak_rss_kb()
    print(json.dumps({"accepted": accepted, "wall_s": round(wall, 2), "peak_rss_mb": round(peak / 1024),
                      "rss_before_mb": round(before / 1024)}))


def measure(side: int, count: int) -> dict[str, Any]:
    data = worst_case_png(side)
    with tempfile.NamedTemporaryFile(suffix=".png") as file:
        file.write(data)
        file.flush()
        command = [sys.executable, "-m", "bench.uploads", "--child", file.name, "--count", str(count)]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)  # noqa: S603 - our own module
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"side": side, "megapixels": round(side * side / 1e6, 1), "upload_kb": round(len(data) / 1024),
            "count": count, **result}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="uploads decoded at once (default 8)")
    parser.add_argument("--side", type=int, default=None,
                        help="square image side; default: the largest this version of the bot accepts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.count)
        return
    from bot.core.images import MAX_PIXELS

    side = args.side or math.isqrt(MAX_PIXELS)
    print(json.dumps(measure(side, args.count)))


if __name__ == "__main__":
    main()
