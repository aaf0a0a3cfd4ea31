"""Prometheus metrics and a health check, served over HTTP when METRICS_PORT is set.

`Metrics` keeps its series in a private registry (tests create many bots in one process), implements the
engine's `JobObserver`, counts Discord 429s through an aiohttp trace on discord.py's HTTP session, and times
each job from the moment its interaction was created.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.core import observe

if TYPE_CHECKING:
    from bot.core.ports import Store
    from bot.core.service import ImageService

log = logging.getLogger(__name__)

OUTCOMES = (
    observe.DONE, observe.FAILED, observe.BLOCKED, observe.CANCELLED, observe.INTERRUPTED, observe.OVER_BUDGET,
    observe.REFUSED,
)
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
JOB_BUCKETS = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
HEALTH_TIMEOUT = 2.0

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]


class Metrics:
    """Every series the bot exports; implements bot.core.observe.JobObserver."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("threadpaint_jobs", "Jobs by how they ended", ["outcome"], registry=r)
        for outcome in OUTCOMES:
            self.jobs.labels(outcome)
        self.ack_seconds = Histogram(
            "threadpaint_ack_seconds", "Seconds from the interaction's creation to the bot's first answer",
            buckets=ACK_BUCKETS, registry=r,
        )
        self.first_preview_seconds = Histogram(
            "threadpaint_first_preview_seconds", "Seconds from the interaction's creation to the first preview",
            buckets=JOB_BUCKETS, registry=r,
        )
        self.final_seconds = Histogram(
            "threadpaint_final_seconds", "Seconds from the interaction's creation to the posted result",
            buckets=JOB_BUCKETS, registry=r,
        )
        self.openai_errors = Counter(
            "threadpaint_openai_errors", "Errors from OpenAI by code, retried ones included", ["code"], registry=r
        )
        self.discord_429 = Counter("threadpaint_discord_429", "HTTP 429 responses from Discord", registry=r)
        self.queue_waiting = Gauge("threadpaint_queue_waiting", "Jobs waiting for a generation slot", registry=r)
        self.jobs_running = Gauge("threadpaint_jobs_running", "Jobs holding a generation slot", registry=r)
        self.dollars = Counter("threadpaint_dollars_spent", "Dollars spent on OpenAI (real usage)", registry=r)

    # -- bot.core.observe.JobObserver ------------------------------------------------------------

    def job_finished(self, outcome: str) -> None:
        self.jobs.labels(outcome).inc()

    def openai_error(self, code: str) -> None:
        self.openai_errors.labels(code).inc()

    def spent(self, micros: int) -> None:
        if micros > 0:
            self.dollars.inc(micros / 1_000_000)

    # -- wiring ----------------------------------------------------------------------------------

    def watch(self, service: ImageService) -> None:
        """Read the queue gauges from the service at scrape time."""
        self.queue_waiting.set_function(lambda: service.queue.waiting)
        self.jobs_running.set_function(lambda: service.queue.running)

    def http_trace(self) -> aiohttp.TraceConfig:
        """For discord.py's `http_trace` option: its REST calls and interaction webhooks share that session."""
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams
        ) -> None:
            if params.response.status == 429:
                self.discord_429.inc()

        trace.on_request_end.append(on_request_end)
        return trace

    def acknowledged(self, interaction_id: int) -> None:
        self.ack_seconds.observe(since(interaction_id))

    def timer(self, interaction_id: int) -> JobTimer:
        return JobTimer(self, interaction_id)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class JobTimer:
    """Times one job's first preview and its final result from its interaction's creation."""

    def __init__(self, metrics: Metrics, interaction_id: int) -> None:
        self._metrics = metrics
        self._interaction_id = interaction_id
        self._previewed = False

    def first_preview(self) -> None:
        if not self._previewed:
            self._previewed = True
            self._metrics.first_preview_seconds.observe(since(self._interaction_id))

    def final(self) -> None:
        self._metrics.final_seconds.observe(since(self._interaction_id))


def since(interaction_id: int) -> float:
    """Seconds since Discord created this snowflake (never negative: clocks differ a little)."""
    return max(0.0, time.time() - discord.utils.snowflake_time(interaction_id).timestamp())


async def check_health(client: discord.Client, store: Store | None) -> dict[str, bool]:
    """Every gateway shard of this process is connected and the database answers a cheap query."""
    gateway = client.is_ready() and not client.is_closed()
    if isinstance(client, discord.AutoShardedClient):
        gateway = gateway and all(not shard.is_closed() for shard in client.shards.values())
    database = False
    if store is not None:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await store.get_chain(0)  # an indexed lookup of a chain that never exists
            database = True
        except Exception as exc:
            log.debug("health: database check failed: %s", exc)
    return {"gateway": gateway, "database": database}


class MetricsServer:
    """`/metrics` (Prometheus text format) and `/healthz` (200 when healthy, else 503)."""

    def __init__(self, metrics: Metrics, health: HealthCheck, *, host: str, port: int) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("metrics on http://%s:%d/metrics and /healthz", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        status = await self.health()
        return web.json_response(status, status=200 if all(status.values()) else 503)
