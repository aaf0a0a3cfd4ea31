"""`python -m bench --quick` runs end to end and reports every metric with a sane value (not a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def summary_ok(summary: dict, n: int, quantiles: tuple[str, ...] = ("p50", "p95", "p99")) -> None:
    assert summary["n"] == n
    values = [summary[q] for q in quantiles]
    assert all(v is not None and 0 < v < 10_000 for v in values), summary
    assert values == sorted(values), summary


def test_quick_benchmark_reports_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| jobs |" in proc.stdout and "jobs/min" in proc.stdout
    result = json.loads(out.read_text())

    assert result["machine"]["cores"] >= 1
    assert result["payload"]["bytes"] > 100_000  # noise-textured, not a few-KB solid colour
    for kind in ("partial", "final"):
        summary_ok(result["floor_ms"][kind], result["payload"]["partials"] if kind == "partial" else 1)
    assert 0 < result["floor_cpu_s_per_job"] < 5  # measured: the floor's own work, in seconds per generation
    assert "CPU s per generation, one at a time" in proc.stdout
    assert 0 < result["idle"]["ticker_cpu_ms_per_s"] < 1000

    partials = result["payload"]["partials"]
    assert [r["jobs"] for r in result["runs"]] == [1, 2]
    for run in result["runs"]:
        jobs = run["jobs"]
        assert run["completed"] == jobs and run["command_errors"] == 0
        assert run["previews_shown"] == run["previews_expected"] == jobs * partials
        assert run["uploads_not_byte_identical"] == 0  # Discord got exactly the bytes OpenAI streamed
        summary_ok(run["preview_overhead_ms"], jobs * partials)
        summary_ok(run["final_overhead_ms"], jobs)
        summary_ok(run["ack_ms"], jobs, ("p50", "p99"))
        assert run["ack_ms"]["p99"] < 3000  # inside Discord's deadline
        assert run["preview_vs_floor_p50"] > 0 and run["final_vs_floor_p50"] > 0
        assert 0 <= run["loop_lag_max_ms"] < 10_000
        assert 0 < run["cpu_s_per_job"] < 60
        assert run["peak_rss_mb"] >= run["rss_before_mb"] > 20
        assert run["rss_per_job_mb"] >= 0
        # The raw samples behind the chart agree with the summaries.
        samples = run["samples_ms"]
        assert len(samples["preview"]) == jobs * partials and len(samples["final"]) == jobs
        assert len(samples["ack"]) == jobs
        assert samples["final"] == sorted(samples["final"])
        assert min(samples["final"]) <= run["final_overhead_ms"]["p50"] <= max(samples["final"])
        assert len(run["rss_timeline"]) >= 1 and all(mb > 20 for _, mb in run["rss_timeline"])

    idle = result["idle"]
    assert min(idle["ready_rss_mb"], idle["idle_rss_mb"], idle["idle_rss_after_mb"]) > 20
    ceiling = result["ceiling"]
    assert ceiling["completed"] == ceiling["jobs"] and ceiling["jobs_per_min"] > 0
    first = result["first_pixels"]
    assert 0 < first["streaming_s"] < first["non_streaming_s"]
    assert 0 < first["ratio"] < 1
    assert set(result["targets"]) == {
        "preview_p50_ms", "preview_p99_ms", "final_minus_preview_p50_ms", "final_p99_ms", "ack_p99_ms",
        "loop_lag_max_ms", "rss_per_job_mb", "peak_rss_mb", "idle_rss_mb", "cpu_s_per_job", "burst_ack_p99_ms",
        "burst_loop_lag_ms", "first_pixels_ratio", "ceiling_jobs_per_min", "jobs_done_ratio",
    }
    assert result["targets"]["jobs_done_ratio"] == {"target": 1.0, "measured": 1.0, "ok": True}
    # The chart is written next to the JSON and is a real picture of the right size.
    from PIL import Image

    with Image.open(out.with_suffix(".png")) as chart:
        assert chart.format == "PNG" and chart.size == (960, 640)
        assert sum(1 for count in chart.convert("L").histogram() if count) > 10  # drawn on, not blank
    assert f"wrote {out} and {out.with_suffix('.png')}" in proc.stderr
    # Those are stated for runs of 50 and 200 jobs, which --quick does not make.
    at_scale = {"preview_p50_ms", "preview_p99_ms", "final_minus_preview_p50_ms", "final_p99_ms", "ack_p99_ms",
                "peak_rss_mb", "cpu_s_per_job", "burst_ack_p99_ms", "burst_loop_lag_ms"}
    assert all((t["measured"] is None) == (name in at_scale) for name, t in result["targets"].items())
    assert result["targets"]["first_pixels_ratio"]["measured"] == first["ratio"]


def test_uploads_benchmark_reports_memory_and_time() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.uploads", "--count", "2", "--side", "600"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["accepted"] == 2 and result["count"] == 2 and result["megapixels"] == 0.4
    assert result["peak_rss_mb"] >= result["rss_before_mb"] > 0 and result["wall_s"] >= 0


def test_the_bench_bot_has_room_for_every_job_and_no_money_caps(tmp_path: Path) -> None:
    # With the default caps ($5 a day for the whole bot) a 50-job run once had 32 jobs refused, and the figures
    # silently measured refusals.
    from bench.__main__ import parse
    from bench.runner import bot_environment
    from bot.settings import Settings

    options = parse([])
    info = {"discord_token": "t", "openai_api_key": "sk-bench", "openai_base_url": "http://127.0.0.1:9/v1",
            "discord_api_base": "http://127.0.0.1:9/api/v10", "discord_gateway_url": "ws://127.0.0.1:9/"}
    settings = Settings.from_env(bot_environment(info, options, str(tmp_path)))
    caps = (settings.budget_user_daily, settings.budget_user_monthly, settings.budget_guild_daily,
            settings.budget_guild_monthly, settings.budget_bot_daily, settings.budget_bot_monthly)
    assert caps == (None,) * 6
    assert settings.max_concurrent_jobs >= max(*options.jobs, options.ceiling_jobs)
