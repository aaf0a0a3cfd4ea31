"""``FakeDiscord``: a local Discord (REST /api/v10, gateway /gateway, CDN /cdn) for discord.py end-to-end tests.

Runs in the test's event loop on 127.0.0.1:<ephemeral>. The routes it serves are those of Discord's published
OpenAPI description in tests/fakes/specs/discord-routes.json (see scripts/refresh_specs.py). State and message
rules live in discord_world.py, handlers in discord_rest.py / discord_interactions.py, the gateway in
discord_gateway.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes import discord_state as s
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_interactions import InteractionRoutes
from tests.fakes.discord_rest import Handler, Req, RestRoutes
from tests.fakes.discord_schema import flatten, request_schema
from tests.fakes.discord_state import (
    MAX_REQUEST_BYTES,
    PERMISSIONS,
    Call,
    DiscordError,
    FakeInteraction,
    UploadedFile,
    form_error,
)
from tests.fakes.discord_world import DiscordWorld

__all__ = ["Call", "FakeDiscord", "FakeInteraction", "UploadedFile"]

API_PREFIX = "/api/v10"
CDN_ROUTE = "/cdn/attachments/{channel_id}/{attachment_id}/{filename}"
_TOKEN_ROUTES = ("/webhooks/", "/interactions/", s.GATEWAY)  # no bot Authorization on these


@dataclass
class _Fault:
    method: str
    route: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class _Bucket:
    limit: int
    window: float
    start: float = 0.0
    count: int = 0


def parse_multipart(body: bytes, content_type: str) -> tuple[Any, list[UploadedFile]]:
    """Split discord.py's form (``payload_json`` + ``files[n]``); bytes are kept exactly as sent."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise DiscordError(400, 50035, "Invalid Form Body")
    payload: Any = None
    files: list[UploadedFile] = []
    for raw in body.split(b"--" + match.group(1).encode())[1:]:
        if raw.startswith(b"--"):
            break
        head, _, data = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.decode().split("\r\n"))}
        disposition = headers.get("content-disposition", "")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        field = name.group(1) if name else ""
        if field == "payload_json":
            payload = json.loads(data)
        elif filename is not None:
            files.append(UploadedFile(field, filename.group(1), headers.get("content-type", ""), data))
    return payload, files


def _json_response(status: int, data: Any, headers: dict[str, str]) -> web.Response:
    if data is None:
        return web.Response(status=status, headers=headers)
    # Exactly "application/json": discord.py's json_or_text compares the header for equality.
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={**headers, "Content-Type": "application/json"})


class FakeDiscord(DiscordWorld):
    def __init__(self, *, ack_deadline: float = 3.0, token_ttl: float = 900.0,
                 attachment_size_limit: int = 10 * 1024 * 1024) -> None:
        super().__init__()
        self.ack_deadline, self.token_ttl, self.attachment_size_limit = ack_deadline, token_ttl, attachment_size_limit
        self.recommended_shards = 1  # what GET /gateway/bot answers
        self.calls: list[Call] = []
        self.unhandled: list[str] = []
        # Bodies Discord's API description rejects (answered 400 50035); the suite fails on any.
        self.validation_errors: list[str] = []
        self.gateway = Gateway(self)
        self.interaction_routes = InteractionRoutes(self)
        self._table = RestRoutes(self).table() + self.interaction_routes.table()
        self._faults: list[_Fault] = []
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._bucket_state: dict[tuple[str, str, str], _Bucket] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def routes(self) -> list[tuple[str, str]]:
        """(method, route) of every REST endpoint served, routes relative to /api/v10 as Discord documents them."""
        return [(method, route) for method, route, _ in self._table]

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        # Discord accepts 25 MiB requests; aiohttp's 1 MiB default would reject image uploads
        # before we could record them. The 25 MiB rule itself is enforced in _handle.
        app = web.Application(client_max_size=MAX_REQUEST_BYTES * 2)
        for method, route, handler in self._table:
            app.router.add_route(method, API_PREFIX + route, self._wrap(method, route, handler))
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get(CDN_ROUTE, self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unhandled)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0,
                       strip_content: bool = False) -> None:
        await self.gateway.dispatch(event, data, intent=intent, strip_content=strip_content)

    async def force_reconnect(self) -> None:
        await self.gateway.force_reconnect()

    # ------------------------------------------------------------------ interactions

    async def invoke_slash(self, name: str, options: dict[str, Any] | None = None, *, channel_id: int | None = None,
                           user_id: int | None = None, guild: bool = True,
                           attachments: dict[str, tuple[str, bytes, str]] | None = None,
                           subcommand: str | None = None, app_permissions: int | None = None,
                           locale: str = "en-US", attachment_size_limit: int | None = None) -> FakeInteraction:
        """Dispatch a chat-input INTERACTION_CREATE; returns at once (the bot answers asynchronously)."""
        inter = self.interaction_routes.build_slash(
            name, options, channel_id=channel_id, user_id=user_id, guild=guild, attachments=attachments,
            subcommand=subcommand, app_permissions=app_permissions, locale=locale,
            attachment_size_limit=attachment_size_limit)
        await self.dispatch("INTERACTION_CREATE", inter.payload)
        return inter

    async def invoke_component(self, message_id: int, custom_id: str, *, user_id: int | None = None,
                               channel_id: int | None = None, forged: bool = False,
                               locale: str = "en-US") -> FakeInteraction:
        """Click a button (INTERACTION_CREATE type 3) on a message; returns at once, like ``invoke_slash``."""
        inter = self.interaction_routes.build_component(message_id, custom_id, user_id=user_id,
                                                        channel_id=channel_id, forged=forged, locale=locale)
        await self.dispatch("INTERACTION_CREATE", inter.payload)
        return inter

    async def submit_modal(self, opened_by: FakeInteraction, values: dict[str, str]) -> FakeInteraction:
        """Fill in and submit the modal the bot showed in answer to ``opened_by`` (INTERACTION_CREATE type 5)."""
        inter = self.interaction_routes.build_modal_submit(opened_by, values)
        await self.dispatch("INTERACTION_CREATE", inter.payload)
        return inter

    async def invoke_message_command(self, name: str, target_message_id: int, *,
                                     user_id: int | None = None) -> FakeInteraction:
        """Run a message context-menu command (e.g. "Edit image") on a message."""
        inter = self.interaction_routes.build_message_command(name, target_message_id, user_id=user_id)
        await self.dispatch("INTERACTION_CREATE", inter.payload)
        return inter

    # ------------------------------------------------------------------ faults and rate limits

    def _known(self, method: str, route: str) -> None:
        if not any(m == method and r == route for m, r, _ in self._table):
            raise ValueError(f"no such route in the fake: {method} {route}")

    def fail_next(self, method: str, route: str, status: int, code: int, message: str, times: int = 1) -> None:
        """The next ``times`` requests to the route get this Discord error instead of being handled."""
        self._known(method, route)
        self._faults.append(_Fault(method, route, status, {"code": code, "message": message}, {}, times))

    def inject_429(self, method: str, route: str, *, times: int = 1, retry_after: float = 0.1,
                   is_global: bool = False, via: bool = True) -> None:
        """429 in Discord's shape. ``via=False`` mimics a Cloudflare ban, which discord.py does not retry."""
        self._known(method, route)
        headers = {"Retry-After": f"{retry_after:.3f}", "X-RateLimit-Scope": "global" if is_global else "user",
                   "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}"}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        if via:
            headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        self._faults.append(_Fault(method, route, 429, body, headers, times))

    def set_rate_limit(self, method: str, route: str, limit: int, window: float) -> None:
        """Make the route's bucket real: ``limit`` requests per ``window`` s per major parameter."""
        self._known(method, route)
        self._buckets[(method, route)] = _Bucket(limit, window)

    def deny_permission(self, channel_id: int, perm_name: str) -> None:
        """Withhold a permission from the bot in a channel (and its threads): 403 50013, or 50001 for view."""
        if perm_name not in PERMISSIONS:
            raise ValueError(f"unknown permission {perm_name!r}; known: {sorted(PERMISSIONS)}")
        self.denied.setdefault(channel_id, set()).add(perm_name)

    def _take_fault(self, method: str, route: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.route == route:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limit(self, method: str, route: str, params: dict[str, str]) -> tuple[dict[str, str], bool]:
        """Rate-limit headers for this response, and whether the request is over the limit."""
        bucket_hash = f"{zlib.crc32(f'{method} {route}'.encode()):08x}"
        config = self._buckets.get((method, route))
        if config is None:  # a roomy default bucket that never blocks
            return {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49", "X-RateLimit-Reset-After": "1.000",
                    "X-RateLimit-Reset": f"{time.time() + 1:.3f}", "X-RateLimit-Bucket": bucket_hash}, False
        major = next((params[k] for k in ("channel_id", "webhook_token", "interaction_token", "guild_id")
                      if k in params), "")
        state = self._bucket_state.setdefault((method, route, major), _Bucket(config.limit, config.window))
        now = time.monotonic()  # real time: discord.py sleeps real seconds
        if now >= state.start + config.window:
            state.start, state.count = now, 0
        over = state.count >= config.limit
        if not over:
            state.count += 1
        reset_after = max(0.0, state.start + config.window - now)
        return {"X-RateLimit-Limit": str(config.limit), "X-RateLimit-Remaining": str(config.limit - state.count),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}", "X-RateLimit-Bucket": bucket_hash}, over

    # ------------------------------------------------------------------ HTTP plumbing

    def _wrap(self, method: str, route: str, handler: Handler) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(request, method, route, handler)
        return handle

    async def _handle(self, request: web.Request, method: str, route: str, handler: Handler) -> web.Response:
        call = Call(method, request.path.removeprefix(API_PREFIX), route, dict(request.match_info),
                    dict(request.query), dict(request.headers), None, [], time.monotonic())
        self.calls.append(call)
        headers, over = self._rate_limit(method, route, call.params)
        try:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise DiscordError(413, 40005, "Request entity too large") from None
            call.received = time.monotonic()
            if len(body) > MAX_REQUEST_BYTES:
                raise DiscordError(413, 40005, "Request entity too large")
            if request.content_type == "multipart/form-data":
                call.json, call.files = parse_multipart(body, request.headers.get("Content-Type", ""))
            elif body:
                try:
                    call.json = json.loads(body)
                except ValueError:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
            if not call.path.startswith(_TOKEN_ROUTES) and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            if call.json is not None:
                self._check_body(method, route, call.json)
            fault = self._take_fault(method, route)
            if fault is not None:
                status, data, headers = fault.status, fault.body, {**headers, **fault.headers}
            elif over:
                retry = float(headers["X-RateLimit-Reset-After"])
                status, data = 429, {"message": "You are being rate limited.", "retry_after": retry, "global": False}
                headers.update({"Retry-After": f"{retry:.3f}", "X-RateLimit-Scope": "user", "Via": "1.1 google"})
            else:
                status, data = await handler(Req(call.params, call.query, call.json, call.files))
        except DiscordError as err:
            status, data = err.status, err.body()
        call.status, call.response = status, data
        return _json_response(status, data, headers)

    def _check_body(self, method: str, route: str, body: Any) -> None:
        """Discord's description of the route must accept the body (for multipart: the payload_json part)."""
        schema = request_schema(method, route)
        errors = schema.errors(body) if schema is not None else None
        if errors is not None:
            self.validation_errors.append(f"{method} {route}: " + "; ".join(flatten(errors)))
            raise form_error(errors)

    async def _cdn(self, request: web.Request) -> web.Response:
        self.calls.append(Call("GET", request.path, CDN_ROUTE, dict(request.match_info), dict(request.query),
                               dict(request.headers), None, [], time.monotonic()))
        att = self.cdn.get(int(request.match_info["attachment_id"]))
        if att is None or att.filename != request.match_info["filename"]:
            self.calls[-1].status = 404
            return web.Response(status=404, text="Not Found")
        self.calls[-1].status = 200
        return web.Response(body=att.data, content_type=att.content_type)

    async def _unhandled(self, request: web.Request) -> web.Response:
        self.unhandled.append(f"{request.method} {request.path}")
        body = {"message": "404: Not Found", "code": 0}
        self.calls.append(Call(request.method, request.path, "", {}, dict(request.query), dict(request.headers),
                               None, [], time.monotonic(), 404, body))
        return _json_response(404, body, {})

    # ------------------------------------------------------------------ assertions helpers

    def route_calls(self, method: str, route: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.route == route]

    def _summary(self) -> str:
        recent = "\n".join(f"  {c.method} {c.route or c.path} -> {c.status}" for c in self.calls[-15:])
        return f"last calls:\n{recent or '  (none)'}\nunhandled: {self.unhandled}"

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0,
                       what: str = "") -> None:
        """Poll fake state until ``predicate()`` is true; TimeoutError shows the recent traffic."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition {what or predicate!r} not met within {timeout}s\n{self._summary()}")
            await asyncio.sleep(0.005)

    async def wait_for_call(self, method: str, route: str, count: int = 1,
                            timeout: float = 5.0) -> list[Call]:
        """Wait until ``count`` answered requests hit the route; returns all of them."""
        def done() -> bool:
            return sum(1 for c in self.route_calls(method, route) if c.status) >= count
        await self.wait_for(done, timeout, what=f"{count}x {method} {route}")
        return [c for c in self.route_calls(method, route) if c.status]
