"""The health file behind `python -m bot health` when no METRICS_PORT is set (Docker's default)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.ops.heartbeat import INTERVAL, STALE_AFTER, Heartbeat, read_heartbeat


async def test_beat_writes_what_healthz_would_answer_with_the_time(tmp_path: Path) -> None:
    async def health() -> dict[str, bool]:
        return {"gateway": True, "database": False}

    path = tmp_path / "nested" / "bot.health"
    await Heartbeat(path, health, clock=lambda: 1000.0).beat()
    record = json.loads(path.read_text())
    assert (record["time"], record["gateway"], record["database"]) == (1000.0, True, False)
    assert not list(path.parent.glob("*.tmp"))  # written whole, then renamed into place


def write(path: Path, **record: object) -> None:
    path.write_text(json.dumps(record))


def test_fresh_and_all_up_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write(path, time=5000.0, gateway=True, database=True)
    assert read_heartbeat(path, now=5000.0 + STALE_AFTER) == (True, '{"gateway": true, "database": true}')


def test_stale_file_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write(path, time=5000.0, gateway=True, database=True)
    healthy, line = read_heartbeat(path, now=5000.0 + STALE_AFTER + 1)
    assert not healthy
    assert line == f"the bot last reported {STALE_AFTER + 1:.0f} s ago (expected every {INTERVAL:g} s)"


def test_a_failing_check_is_unhealthy_and_named(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write(path, time=1.0, gateway=False, database=True)
    assert read_heartbeat(path, now=2.0) == (False, "not ready: gateway down")
    write(path, time=1.0, gateway=True, database=False)
    assert read_heartbeat(path, now=2.0) == (False, "not ready: database down")


def test_missing_or_garbled_file_is_unhealthy(tmp_path: Path) -> None:
    assert read_heartbeat(tmp_path / "absent", now=0.0)[0] is False
    (tmp_path / "bad").write_text("{not json")
    healthy, line = read_heartbeat(tmp_path / "bad", now=0.0)
    assert not healthy and line.startswith("unreadable health file")
