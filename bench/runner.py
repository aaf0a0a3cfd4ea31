"""Run the real bot against the fakes with realistic payloads and measure it (see bench/__main__.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from bench.fakes import FakesConfig, InProcessFakes, ProcessFakes
from bench.floor import floor_generation
from bench.monitor import LoopMonitor, rss_mb, summary_ms
from bot.app import ThreadpaintBot
from bot.core.guild_settings import GuildSettings
from bot.ops.log import setup_logging
from bot.ops.memory import IDLE_SECONDS, keep_image_buffers
from bot.settings import Settings
from tests.harness import CommandTracker

log = logging.getLogger("bench")

TARGETS = {
    "preview_p50_ms": 20.0,
    "preview_p99_ms": 100.0,
    # Finals as fast as previews: the p50s at 50 jobs within 10 ms of each other.
    "final_minus_preview_p50_ms": 10.0,
    "final_p99_ms": 60.0,
    "ack_p99_ms": 200.0,
    "loop_lag_max_ms": 100.0,  # runs of up to TARGET_LEVEL jobs
    "rss_per_job_mb": 15.0,
    "peak_rss_mb": 300.0,  # at TARGET_LEVEL jobs
    "idle_rss_mb": 130.0,
    "cpu_s_per_job": 0.035,  # at TARGET_LEVEL jobs: one core serves about 1,700 jobs a minute
    # A burst: BURST_LEVEL jobs arriving within one generation time.
    "burst_ack_p99_ms": 1000.0,
    "burst_loop_lag_ms": 250.0,
    "first_pixels_ratio": 0.35,
    "ceiling_jobs_per_min": 600.0,
    # Figures from runs where jobs were refused or lost measure something else: every job must finish.
    "jobs_done_ratio": 1.0,
}
AT_LEAST = ("ceiling_jobs_per_min", "jobs_done_ratio")
TARGET_LEVEL = 50  # the concurrency the latency targets are stated for
BURST_LEVEL = 200


@dataclass
class BenchOptions:
    jobs: list[int] = field(default_factory=lambda: [1, 10, 50, 200])
    partials: int = 2
    pace_ms: float = 1000.0  # between two image events (partial, partial, ..., final) of one generation
    image_bytes: int = 2_000_000
    pixel_scale: float = 1.0  # of the requested 1536×1024
    preview_interval: float = 0.1
    ceiling_jobs: int = 200
    floor_runs: int = 5
    first_pixel_runs: int = 3
    fakes: str = "process"  # "process" | "inprocess"
    # False: the jobs of a run start evenly over one generation time, so that many are in flight at once in steady
    # state; True: all start at the same instant (their previews then arrive together, the worst case).
    burst: bool = False
    out: Path = Path("bench-results.json")
    quick: bool = False
    timeout: float = 300.0

    @property
    def generation_time(self) -> float:
        return self.pace_ms / 1000 * (self.partials + 1)


@dataclass
class Level:
    """One batch of jobs dispatched at once, and what the fakes saw of it."""

    jobs: int
    wall: float
    cpu: float
    fake_cpu: float
    base_rss: float
    monitor: LoopMonitor
    data: dict[str, Any]
    ids: list[int]
    errors: int


def bot_environment(info: dict[str, Any], options: BenchOptions, folder: str) -> dict[str, str]:
    """The bot's settings for a bench run: the fakes' addresses, room for every job, and no money caps."""
    return {
        "DISCORD_TOKEN": info["discord_token"],
        "OPENAI_API_KEY": info["openai_api_key"],
        "OPENAI_BASE_URL": info["openai_base_url"],
        "DISCORD_API_BASE_URL": info["discord_api_base"],
        "DISCORD_GATEWAY_URL": info["discord_gateway_url"],
        "DATABASE_URL": f"sqlite:///{Path(folder) / 'threadpaint.db'}",
        "HEALTH_FILE": str(Path(folder) / "threadpaint.health"),
        "OPENAI_MODEL": "gpt-5.4-mini",
        "PARTIAL_IMAGES": str(options.partials),
        "PREVIEW_INTERVAL": str(options.preview_interval),
        "MAX_CONCURRENT_JOBS": str(max(200, *options.jobs, options.ceiling_jobs)),
        "MAX_JOBS_PER_USER": "100",
        # The bench measures speed, not money: with the default caps most of a 50-job run would be refused.
        **{f"BUDGET_{who}_{period}_USD": "unlimited"
           for who in ("USER", "SERVER", "BOT") for period in ("DAILY", "MONTHLY")},
        "LOG_LEVEL": "INFO",
    }


class Bench:
    def __init__(self, options: BenchOptions, log_stream: IO[str]) -> None:
        self.options = options
        config = FakesConfig(image_bytes=options.image_bytes, pixel_scale=options.pixel_scale)
        self.fakes: ProcessFakes | InProcessFakes = (
            ProcessFakes(config) if options.fakes == "process" else InProcessFakes(config)
        )
        self._log_stream = log_stream
        self._tmp = tempfile.TemporaryDirectory(prefix="threadpaint-bench-")
        self.bot: ThreadpaintBot | None = None
        self.tracker: CommandTracker | None = None
        self._task: asyncio.Task[None] | None = None
        self.users: list[int] = []
        self._batch = 0
        self._handler: logging.Handler | None = None

    # ---- lifecycle

    async def start(self) -> dict[str, float]:
        keep_image_buffers(os.environ)  # as `python -m bot` does at start
        await self.fakes.start()
        env = bot_environment(self.fakes.info, self.options, self._tmp.name)
        settings = Settings.from_env(env)
        # As in production (python -m bot): the bot's handler with its redaction, at INFO, to a file.
        self._handler = setup_logging(
            settings.log_level, (settings.discord_token.get(), settings.openai_api_key.get()), self._log_stream
        )
        # The bot builds its own OpenAI client, as in production; only start-up waits are shortened.
        self.bot = ThreadpaintBot(settings, guild_ready_timeout=0.05, freeze_heap_when_ready=True)
        self._task = asyncio.create_task(self.bot.start(settings.discord_token.get()), name="threadpaint-bench")
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task.done():
                self._task.result()
            raise TimeoutError("the bot did not become ready")
        await asyncio.wait_for(self.bot.recovered.wait(), 30)
        self.tracker = CommandTracker(self.bot)
        gc.collect()
        ready_rss = rss_mb()
        self.users = await self.fakes.call(
            "add_users", count=max(*self.options.jobs, self.options.ceiling_jobs, 1)
        )
        # One job first, so lazy imports and first-use caches are not billed to the measured runs.
        await self.level(1, self.options.generation_time / 10)
        # Idle means idle: the bot gives freed memory back IDLE_SECONDS after its last job (bot/ops/memory.py).
        await asyncio.sleep(IDLE_SECONDS + 1.0)
        gc.collect()
        idle_rss = rss_mb()
        return {"ready_rss_mb": round(ready_rss, 1), "idle_rss_mb": round(idle_rss, 1),
                "ticker_cpu_ms_per_s": round(await self._ticker_cpu_per_s() * 1000, 1)}

    async def _ticker_cpu_per_s(self, seconds: float = 2.0) -> float:
        """The measuring instrument's own cost: the 10 ms loop ticker alone, on the idle bot. Every wake-up of an
        otherwise idle loop costs the process CPU, and that is counted in the runs' CPU s/job."""
        monitor = LoopMonitor()
        monitor.start()
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu_per_s = (time.process_time() - cpu0) / (time.monotonic() - t0)
        await monitor.stop()
        return cpu_per_s

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 15)
        await self.fakes.stop()
        self._tmp.cleanup()
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()

    # ---- measuring

    async def level(self, jobs: int, generation_time: float, spread: float = 0.0) -> Level:
        assert self.tracker is not None
        self._batch += 1
        await self.fakes.call("reset")
        gc.collect()
        await asyncio.sleep(0.05)
        base_rss = rss_mb()
        await self.fakes.call("queue_scripts", count=jobs, generation_time=generation_time)
        batch = [(f"benchmark batch {self._batch} job {i}", self.users[i % len(self.users)]) for i in range(jobs)]
        fake_cpu0 = await self.fakes.call("cpu")
        monitor = LoopMonitor()
        monitor.start()
        cpu0, t0 = time.process_time(), time.monotonic()
        ids: list[int] = await self.fakes.call("invoke", jobs=batch, spread=spread)
        tracker = self.tracker
        await asyncio.wait_for(asyncio.gather(*(tracker.done[i].wait() for i in ids)), self.options.timeout)
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        await monitor.stop()
        fake_cpu = await self.fakes.call("cpu") - fake_cpu0
        data = await self.fakes.call("collect")
        errors = sum(1 for i in ids if i in tracker.errors)
        return Level(jobs, wall, cpu, fake_cpu, base_rss, monitor, data, ids, errors)

    async def floor(self) -> dict[str, Any]:
        """The same payload with no bot logic: parse, base64-decode, upload (see bench/floor.py)."""
        opts = self.options
        await self.fakes.call("reset")
        cpu = 0.0
        async with aiohttp.ClientSession() as session:
            for i in range(opts.floor_runs):
                await self.fakes.call("queue_scripts", count=1, generation_time=min(opts.generation_time, 0.6))
                # The floor's CPU per generation: the same bytes read, parsed, decoded and uploaded, nothing else.
                start = time.process_time()
                await floor_generation(session, self.fakes.info, f"benchmark floor {i}", opts.partials)
                cpu += time.process_time() - start
        data = await self.fakes.call("collect")
        uploads = [u for u in data["uploads"] if u["source"] == "floor" and u["written"] is not None]
        return {
            kind: summary_ms([u["received"] - u["written"] for u in uploads if u["kind"] == kind])
            for kind in ("partial", "final")
        } | {"bytes": max((u["size"] for u in uploads), default=0),
             "cpu_s_per_job": round(cpu / max(1, opts.floor_runs), 4)}

    async def first_pixels(self) -> dict[str, Any]:
        """Seconds from the command to the first image a member sees: streamed previews vs. none."""
        assert self.bot is not None
        guild_id = self.fakes.info["guild_id"]
        streaming: list[float] = []
        plain: list[float] = []
        for _ in range(self.options.first_pixel_runs):
            streaming += _first_pixels(await self.level(1, self.options.generation_time))
            await self.bot.store.set_guild_settings(guild_id, GuildSettings(partial_images=0), self.users[0])
            try:
                plain += _first_pixels(await self.level(1, self.options.generation_time))
            finally:
                await self.bot.store.set_guild_settings(guild_id, GuildSettings(), self.users[0])
        s, p = _median(streaming), _median(plain)
        return {
            "streaming_s": _round(s, 3), "non_streaming_s": _round(p, 3),
            "ratio": _round(s / p if s is not None and p else None, 3),
        }


def _size(scale: float) -> str:
    return f"{round(1536 * scale)}x{round(1024 * scale)}"


def _median(values: list[float]) -> float | None:
    return sorted(values)[len(values) // 2] if values else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _bot_uploads(level: Level) -> list[dict[str, Any]]:
    return [u for u in level.data["uploads"] if u["source"] == "bot"]


def _first_pixels(level: Level) -> list[float]:
    created = {a["interaction_id"]: a["created"] for a in level.data["acks"]}
    first: dict[int, float] = {}
    for u in _bot_uploads(level):
        iid = u["interaction_id"]
        first[iid] = min(first.get(iid, u["received"]), u["received"])
    return [first[i] - created[i] for i in level.ids if i in first and i in created]


def level_report(level: Level, partials: int, floor: dict[str, Any] | None) -> dict[str, Any]:
    uploads = [u for u in _bot_uploads(level) if u["written"] is not None]
    overhead = {kind: [u["received"] - u["written"] for u in uploads if u["kind"] == kind]
                for kind in ("partial", "final")}
    acks = [a["acked"] - a["created"] for a in level.data["acks"] if a["acked"] is not None]
    finals = {u["interaction_id"] for u in uploads if u["kind"] == "final"}
    preview = summary_ms(overhead["partial"])
    final = summary_ms(overhead["final"])
    out: dict[str, Any] = {
        "jobs": level.jobs,
        "completed": len(finals),
        "command_errors": level.errors,
        "wall_s": round(level.wall, 3),
        "jobs_per_min": round(level.jobs / level.wall * 60, 1),
        "preview_overhead_ms": preview,
        "final_overhead_ms": final,
        "previews_expected": level.jobs * partials,
        "previews_shown": len(overhead["partial"]),
        "uploads_not_byte_identical": sum(1 for u in uploads if not u["same_bytes"]),
        "ack_ms": summary_ms(acks, (50, 99)),
        "loop_lag_max_ms": round(level.monitor.max_lag * 1000, 1),
        "loop_lag_p99_ms": summary_ms(level.monitor.lags, (99,))["p99"],
        "cpu_s_per_job": round(level.cpu / level.jobs, 4),
        "fakes_cpu_s_per_job": round(level.fake_cpu / level.jobs, 4),
        "rss_before_mb": round(level.base_rss, 1),
        "peak_rss_mb": round(level.monitor.peak_rss, 1),
        "rss_per_job_mb": round(max(0.0, level.monitor.peak_rss - level.base_rss) / level.jobs, 2),
        # Every sample, for the chart (bench/chart.py): the distributions, not just their quantiles.
        "samples_ms": {"preview": _ms_list(overhead["partial"]), "final": _ms_list(overhead["final"]),
                       "ack": _ms_list(acks)},
        "rss_timeline": _thin([[round(t, 2), round(mb, 1)] for t, mb in level.monitor.rss_samples], 300),
    }
    if floor is not None:
        for kind, key in (("partial", "preview"), ("final", "final")):
            base, mine = floor[kind]["p50"], out[f"{key}_overhead_ms"]["p50"]
            out[f"{key}_vs_floor_p50"] = round(mine / base, 2) if base and mine is not None else None
    return out


def _ms_list(seconds: list[float]) -> list[float]:
    return sorted(round(s * 1000, 2) for s in seconds)


def _thin(points: list[list[float]], most: int) -> list[list[float]]:
    """At most `most` points, evenly picked, always keeping the last."""
    if len(points) <= most:
        return points
    step = len(points) / most
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0], "platform": platform.platform(),
    }


def judge(result: dict[str, Any]) -> dict[str, Any]:
    """Each target with the measured value and whether it holds (None when that run was not made)."""
    at = next((r for r in result["runs"] if r["jobs"] == TARGET_LEVEL), None)
    burst = next((r for r in result["runs"] if r["jobs"] == BURST_LEVEL), None)
    worst_lag = max((r["loop_lag_max_ms"] for r in result["runs"] if r["jobs"] <= TARGET_LEVEL), default=None)
    # Per-job memory is only meaningful with several jobs in flight; a lone job carries the fixed costs.
    many = [r for r in result["runs"] if r["jobs"] >= 10] or result["runs"]
    worst_rss = max((r["rss_per_job_mb"] for r in many), default=None)
    measured = {
        "preview_p50_ms": at["preview_overhead_ms"]["p50"] if at else None,
        "preview_p99_ms": at["preview_overhead_ms"]["p99"] if at else None,
        "final_minus_preview_p50_ms": (
            round(at["final_overhead_ms"]["p50"] - at["preview_overhead_ms"]["p50"], 2) if at else None
        ),
        "final_p99_ms": at["final_overhead_ms"]["p99"] if at else None,
        "ack_p99_ms": at["ack_ms"]["p99"] if at else None,
        "loop_lag_max_ms": worst_lag,
        "rss_per_job_mb": worst_rss,
        "peak_rss_mb": at["peak_rss_mb"] if at else None,
        "idle_rss_mb": result["idle"]["idle_rss_mb"],
        "cpu_s_per_job": at["cpu_s_per_job"] if at else None,
        "burst_ack_p99_ms": burst["ack_ms"]["p99"] if burst else None,
        "burst_loop_lag_ms": burst["loop_lag_max_ms"] if burst else None,
        "first_pixels_ratio": result["first_pixels"]["ratio"],
        "ceiling_jobs_per_min": result["ceiling"]["jobs_per_min"],
        "jobs_done_ratio": min(r["completed"] / r["jobs"] for r in [*result["runs"], result["ceiling"]]),
    }
    out = {}
    for name, target in TARGETS.items():
        value = measured[name]
        ok = None if value is None else (value >= target if name in AT_LEAST else value <= target)
        out[name] = {"target": target, "measured": value, "ok": ok}
    return out


async def run(options: BenchOptions, progress: IO[str] = sys.stderr) -> dict[str, Any]:
    log_path = Path(tempfile.gettempdir()) / f"threadpaint-bench-{os.getpid()}.log"
    with log_path.open("w", encoding="utf-8") as log_stream:
        bench = Bench(options, log_stream)
        try:
            print("starting the fakes and the bot…", file=progress)
            idle = await bench.start()
            print("measuring the floor…", file=progress)
            floor = await bench.floor()
            runs = []
            for jobs in options.jobs:
                print(f"{jobs} concurrent jobs…", file=progress)
                spread = 0.0 if options.burst else options.generation_time
                level = await bench.level(jobs, options.generation_time, spread)
                runs.append(level_report(level, options.partials, floor))
            print(f"throughput ceiling ({options.ceiling_jobs} jobs, zero-latency doubles)…", file=progress)
            ceiling_level = await bench.level(options.ceiling_jobs, 0.0)
            ceiling = level_report(ceiling_level, options.partials, None)
            print("time to first pixels…", file=progress)
            first = await bench.first_pixels()
            gc.collect()
            # Idle: long enough for the bot to notice the burst is over and give memory back (bot/ops/memory.py).
            await asyncio.sleep(IDLE_SECONDS + 1.0)
            idle["idle_rss_after_mb"] = round(rss_mb(), 1)
        finally:
            await bench.stop()
    result: dict[str, Any] = {
        "machine": machine(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "payload": {"size": _size(options.pixel_scale), "format": "png", "bytes": floor["bytes"],
                    "partials": options.partials, "pace_ms": options.pace_ms, "fakes": options.fakes,
                    "arrivals": "burst" if options.burst else "spread over one generation time"},
        "floor_ms": {"partial": floor["partial"], "final": floor["final"]},
        "floor_cpu_s_per_job": floor["cpu_s_per_job"],
        "idle": idle,
        "runs": runs,
        "ceiling": {"jobs": ceiling["jobs"], "completed": ceiling["completed"], "wall_s": ceiling["wall_s"],
                    "jobs_per_min": ceiling["jobs_per_min"], "cpu_s_per_job": ceiling["cpu_s_per_job"],
                    "fakes_cpu_s_per_job": ceiling["fakes_cpu_s_per_job"],
                    "loop_lag_max_ms": ceiling["loop_lag_max_ms"], "ack_ms": ceiling["ack_ms"],
                    "peak_rss_mb": ceiling["peak_rss_mb"]},
        "first_pixels": first,
        "log_file": str(log_path),
    }
    result["targets"] = judge(result)
    return result
