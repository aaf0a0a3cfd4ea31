"""The benchmark's figures as a picture: latency distributions per job count and memory over time.

Written next to the JSON (`bench-results.png`), so a regression shows at a glance; the README shows the latest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_chart(result: dict[str, Any], path: Path) -> None:
    # Imported when the figures are in: matplotlib is ~40 MB, which the bot's memory figures (measured in this
    # process) must not carry.
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    runs = result["runs"]
    labels = [str(r["jobs"]) for r in runs]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    machine = result["machine"]
    fig.suptitle(f"threadpaint bench: {result['payload']['size']} PNG, {result['payload']['bytes'] / 1e6:.1f} MB, "
                 f"{result['payload']['partials']} previews + final; {machine['cores']} cores, "
                 f"Python {machine['python']}")
    for ax, key, floor_key, title in (
        (axes[0][0], "preview", "partial", "preview overhead (ms)"),
        (axes[0][1], "final", "final", "final overhead (ms)"),
    ):
        _boxes(ax, [r["samples_ms"][key] for r in runs], labels, title)
        floor = result["floor_ms"][floor_key]["p50"]
        if floor:
            ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label=f"floor p50 {floor:.0f} ms")
            ax.legend(loc="upper left")
    _boxes(axes[1][0], [r["samples_ms"]["ack"] for r in runs], labels, "acknowledgement (ms)")
    axes[1][0].axhline(3000, color="red", linestyle=":", linewidth=1, label="Discord's 3 s limit")
    axes[1][0].legend(loc="upper left")
    ax = axes[1][1]
    for run in runs:
        times = [point[0] for point in run["rss_timeline"]]
        mbs = [point[1] for point in run["rss_timeline"]]
        ax.plot(times, mbs, label=f"{run['jobs']} jobs")
    ax.axhline(result["idle"]["idle_rss_mb"], color="grey", linestyle="--", linewidth=1, label="idle")
    ax.set_title("resident memory during each run (MB)")
    ax.set_xlabel("seconds since the run started")
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _boxes(ax: Any, data: list[list[float]], labels: list[str], title: str) -> None:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    shown = [values or [0.0] for values in data]  # a run without samples still gets its slot
    ax.boxplot(shown, tick_labels=labels, whis=(1, 99), showfliers=True, flierprops={"markersize": 2})
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())  # 40, not 4×10¹
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(title)
    ax.set_xlabel("concurrent jobs (whiskers: p1–p99)")
