"""Metrics and health: /metrics in Prometheus text format, /healthz 200 while healthy and 503 otherwise."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core import observe
from bot.ops.metrics import Metrics, check_health
from bot.settings import ConfigError
from tests.fakes.discord_state import ORIGINAL
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_metrics_count_jobs_errors_429s_and_money(harness: Harness) -> None:
    port = free_port()
    running = await harness.start_bot(METRICS_PORT=str(port), METRICS_HOST="127.0.0.1")

    harness.discord.inject_429("PATCH", ORIGINAL, times=1, retry_after=0.1)
    harness.openai.queue_script(ImageScript(final_color=(0, 90, 0), event_delay=0.02))
    await harness.command(running, "draw", {"prompt": "moss"})
    harness.openai.add_fault(Fault.moderation_400())
    await harness.command(running, "draw", {"prompt": "something blocked"})

    status, text = await get(port, "/metrics")
    assert status == 200
    values = samples(text)
    assert values[("threadpaint_jobs_total", (("outcome", "done"),))] == 1.0
    assert values[("threadpaint_jobs_total", (("outcome", "blocked"),))] == 1.0
    assert values[("threadpaint_jobs_total", (("outcome", "failed"),))] == 0.0
    assert values[("threadpaint_openai_errors_total", (("code", "moderation_blocked"),))] == 1.0
    assert values[("threadpaint_discord_429_total", ())] >= 1.0
    assert values[("threadpaint_dollars_spent_total", ())] > 0
    assert values[("threadpaint_ack_seconds_count", ())] == 2.0
    assert values[("threadpaint_first_preview_seconds_count", ())] >= 1.0
    assert values[("threadpaint_final_seconds_count", ())] == 1.0
    assert 0 <= values[("threadpaint_final_seconds_sum", ())] < 30
    assert values[("threadpaint_queue_waiting", ())] == 0.0
    assert values[("threadpaint_jobs_running", ())] == 0.0


async def test_healthz_is_200_while_healthy_and_503_without_the_database(harness: Harness) -> None:
    port = free_port()
    running = await harness.start_bot(METRICS_PORT=str(port), METRICS_HOST="127.0.0.1")
    status, text = await get(port, "/healthz")
    assert (status, text) == (200, '{"gateway": true, "database": true}')

    await running.store.close()
    status, text = await get(port, "/healthz")
    assert (status, text) == (503, '{"gateway": true, "database": false}')


async def test_health_reports_the_gateway_down_after_close_and_the_server_stops(harness: Harness) -> None:
    port = free_port()
    running = await harness.start_bot(METRICS_PORT=str(port), METRICS_HOST="127.0.0.1")
    bot = running.bot
    await harness.stop_bot(running)
    assert await check_health(bot, bot.store) == {"gateway": False, "database": False}
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(port, "/healthz")


async def test_no_server_without_metrics_port_but_still_counting(harness: Harness) -> None:
    running = await harness.start_bot()
    assert running.bot._metrics_server is None
    await harness.command(running, "draw", {"prompt": "moss"})
    assert b'threadpaint_jobs_total{outcome="done"} 1.0' in running.bot.metrics.render()


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.job_finished(observe.DONE)
    first.spent(1_500_000)
    assert b'threadpaint_jobs_total{outcome="done"} 1.0' in first.render()
    assert b'threadpaint_dollars_spent_total 1.5' in first.render()
    assert b'threadpaint_jobs_total{outcome="done"} 0.0' in second.render()


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_metrics_port_must_be_a_port(harness: Harness, value: str) -> None:
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        harness.settings(METRICS_PORT=value)


def test_log_format_must_be_text_or_json(harness: Harness) -> None:
    assert harness.settings().log_format == "text"
    assert harness.settings(LOG_FORMAT="JSON").log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        harness.settings(LOG_FORMAT="xml")


async def test_a_job_over_budget_is_counted_as_such(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0")
    await harness.command(running, "draw", {"prompt": "moss"})
    text = running.bot.metrics.render().decode()
    assert 'threadpaint_jobs_total{outcome="over_budget"} 1.0' in text
    assert 'threadpaint_jobs_total{outcome="done"} 0.0' in text
