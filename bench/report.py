"""The benchmark's result as a markdown table."""

from __future__ import annotations

from typing import Any

from bench.runner import AT_LEAST


def _ms(summary: dict[str, Any], *keys: str) -> str:
    values = [summary.get(k) for k in keys]
    return " / ".join("–" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}" for v in values)


def _ok(targets: dict[str, Any], name: str) -> str:
    ok = targets.get(name, {}).get("ok")
    return "" if ok is None else (" ✅" if ok else " ❌")


def render(result: dict[str, Any]) -> str:
    m, p, t = result["machine"], result["payload"], result["targets"]
    floor = result["floor_ms"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}.",
        f"Payload: {p['size']} {p['format']}, {p['bytes'] / 1e6:.2f} MB per image, {p['partials']} previews + final, "
        f"{p['pace_ms']:.0f} ms between image events; jobs of a run start {p['arrivals']}; fakes: {p['fakes']}.",
        "",
        "| jobs | preview overhead p50/p95/p99 ms | ×floor | final overhead p50/p95/p99 ms | ×floor "
        "| ack p50/p99 ms | loop lag max ms | CPU s/job | peak RSS MB | RSS/job MB | previews shown | done |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['jobs']} | {_ms(r['preview_overhead_ms'], 'p50', 'p95', 'p99')} | {r.get('preview_vs_floor_p50')} "
            f"| {_ms(r['final_overhead_ms'], 'p50', 'p95', 'p99')} | {r.get('final_vs_floor_p50')} "
            f"| {_ms(r['ack_ms'], 'p50', 'p99')} | {r['loop_lag_max_ms']:.0f} | {r['cpu_s_per_job']:.3f} "
            f"| {r['peak_rss_mb']:.0f} | {r['rss_per_job_mb']:.1f} | {r['previews_shown']}/{r['previews_expected']} "
            f"| {r['completed']}/{r['jobs']} |"
        )
    c, f, idle = result["ceiling"], result["first_pixels"], result["idle"]
    lines += [
        "",
        f"- Floor (parse + base64 decode + one upload, no bot logic): preview "
        f"{_ms(floor['partial'], 'p50', 'p95', 'p99')} ms, final {_ms(floor['final'], 'p50', 'p95', 'p99')} ms "
        f"(p50/p95/p99); {result.get('floor_cpu_s_per_job', 0):.3f} CPU s per generation, one at a time.",
        f"- Throughput ceiling (zero-latency doubles, {c['jobs']} jobs at once): **{c['jobs_per_min']:.0f} jobs/min**"
        f"{_ok(t, 'ceiling_jobs_per_min')} ({c['completed']}/{c['jobs']} done in {c['wall_s']:.1f} s, "
        f"{c['cpu_s_per_job']:.3f} CPU s/job in the bot, loop lag max {c['loop_lag_max_ms']:.0f} ms).",
        f"- Idle RSS: {idle['idle_rss_mb']:.0f} MB after start-up and one job{_ok(t, 'idle_rss_mb')} "
        f"({idle['ready_rss_mb']:.0f} MB when ready, {idle.get('idle_rss_after_mb', 0):.0f} MB after all runs).",
        f"- The bench's own 10 ms loop ticker (lag and RSS) costs {idle.get('ticker_cpu_ms_per_s', 0):.0f} ms of CPU "
        "per second on the idle bot in this run; it is included in CPU s/job.",
        f"- Time to first visible pixels: {f['streaming_s']} s streaming vs. {f['non_streaming_s']} s with "
        f"partial_images=0 (ratio {f['ratio']}).",
        "",
        "Targets: " + ", ".join(
            f"{name} {v['measured']} (≤ {v['target']})" if name not in AT_LEAST
            else f"{name} {v['measured']} (≥ {v['target']})"
            for name, v in t.items()
        ) + ".",
        "Missed: " + (", ".join(name for name, v in t.items() if v["ok"] is False) or "none") + ".",
    ]
    return "\n".join(lines)
