"""The two test doubles (fake OpenAI, fake Discord) as one benchmark fixture, in a child process or in-process.

The child process keeps the fakes' CPU (JSON, base64, multipart parsing, bookkeeping) off the bot's core and
out of its `time.process_time()`. Timestamps are `time.monotonic()`, which on Linux is one system-wide clock,
so the fakes' times and the bot process's times can be subtracted directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import re
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_state import user_payload
from tests.fakes.openai_server import FakeOpenAI, ImageScript, _prompt_text

# One palette for every job: the fake encodes each colour once, so it serves realistic payloads cheaply.
FINAL_COLOR = (30, 140, 220)
PARTIAL_COLORS: list[tuple[int, int, int]] = [(90, 90, 90), (60, 120, 180), (45, 130, 200)]
SIZE = "1536x1024"
_PREVIEW_NAME = re.compile(r"preview_(\d+)\.\w+")
_FLOOR_NAME = re.compile(r"floor-(?P<rid>resp_\w+)-(?P<kind>partial|final)-(?P<idx>\d+)\.\w+")


@dataclass(frozen=True)
class FakesConfig:
    image_bytes: int = 2_000_000
    pixel_scale: float = 1.0


class FakesHost:
    """Owns both fakes; every public coroutine is callable by name through `call` (the RPC surface)."""

    def __init__(self, config: FakesConfig) -> None:
        self.config = config
        self.openai = FakeOpenAI(pixel_scale=config.pixel_scale, image_bytes=config.image_bytes)
        self.discord = FakeDiscord()
        self.users: list[int] = []

    async def start(self) -> dict[str, Any]:
        await self.openai.start()
        await self.discord.start()
        # Encode the palette now, so no request pays for it.
        for color in [FINAL_COLOR, *PARTIAL_COLORS]:
            await asyncio.to_thread(self.openai._encode, color, size=SIZE, fmt="png", compression=100)
        return self.info()

    async def stop(self) -> None:
        await self.discord.stop()
        await self.openai.stop()

    def info(self) -> dict[str, Any]:
        d = self.discord
        return {
            "openai_base_url": self.openai.base_url, "openai_api_key": self.openai.api_key,
            "discord_api_base": d.api_base, "discord_gateway_url": d.gateway_url, "discord_token": d.token,
            "guild_id": d.guild_id, "text_channel_id": d.text_channel_id, "app_id": d.app_id,
            "user_id": d.user_id,
        }

    async def call(self, name: str, kwargs: dict[str, Any]) -> Any:
        if name.startswith("_") or name not in _RPC:
            raise ValueError(f"no such call {name!r}")
        return await getattr(self, name)(**kwargs)

    # ---- RPC surface

    async def add_users(self, count: int) -> list[int]:
        from tests.fakes.discord_state import snowflake

        while len(self.users) < count:
            uid = snowflake()
            self.discord.users[uid] = user_payload(uid, f"member{len(self.users)}")
            self.users.append(uid)
        return self.users[:count]

    async def queue_scripts(self, count: int, generation_time: float, event_delay: float = 0.0) -> None:
        for _ in range(count):
            self.openai.queue_script(ImageScript(
                final_color=FINAL_COLOR, partial_colors=list(PARTIAL_COLORS), revised_prompt="A benchmark image",
                generation_time=generation_time, event_delay=event_delay,
            ))

    async def invoke(self, jobs: list[tuple[str, int]], spread: float = 0.0) -> list[int]:
        """Dispatch one /draw per (prompt, user id), evenly over `spread` seconds (0: back to back)."""
        ids = []
        start = time.monotonic()
        for i, (prompt, user_id) in enumerate(jobs):
            if spread:
                await asyncio.sleep(max(0.0, start + spread * i / len(jobs) - time.monotonic()))
            inter = await self.discord.invoke_slash("draw", {"prompt": prompt, "size": SIZE}, user_id=user_id)
            ids.append(inter.id)
        return ids

    async def cpu(self) -> float:
        return time.process_time()

    async def collect(self) -> dict[str, Any]:
        """Every image upload matched to the event that carried it, plus acknowledgement times."""
        fo, fd = self.openai, self.discord
        written = {(rid, kind, idx): t for rid, kind, idx, t in fo.event_log}
        generations = {g.response_id: g for g in fo.generations}
        response_of_prompt = {_prompt_text(g.request): g.response_id for g in fo.generations}
        by_token = {i.token: i for i in fd.interactions.values()}
        uploads: list[dict[str, Any]] = []
        for c in fd.calls:
            if not c.files or not 200 <= c.status < 300:
                continue
            token = c.params.get("webhook_token") or c.params.get("interaction_token")
            inter = by_token.get(token) if token else None
            for f in c.files:
                iid: int | None = None
                if inter is not None:
                    iid = inter.id
                    rid = response_of_prompt.get(_option(inter.payload, "prompt") or "")
                    match = _PREVIEW_NAME.fullmatch(f.filename)
                    kind, idx = ("partial", int(match.group(1)) - 1) if match else ("final", 0)
                elif floor := _FLOOR_NAME.fullmatch(f.filename):
                    rid, kind, idx = floor["rid"], floor["kind"], int(floor["idx"])
                else:
                    continue
                g = generations.get(rid or "")
                expected = None if g is None else (g.final_image if kind == "final" else g.partial_images[idx])
                uploads.append(Upload(
                    source="bot" if inter is not None else "floor", interaction_id=iid, response_id=rid,
                    kind=kind, index=idx, written=written.get((rid or "", kind, idx)), received=c.received,
                    size=len(f.data), same_bytes=expected is not None and f.data == expected,
                ).__dict__)
        acks = [
            {"interaction_id": i.id, "created": i.created_at, "acked": i.acked_at}
            for i in fd.interactions.values()
        ]
        events = [{"response_id": rid, "kind": kind, "index": idx, "written": t}
                  for rid, kind, idx, t in fo.event_log]
        return {"uploads": uploads, "acks": acks, "events": events,
                "unhandled": list(fd.unhandled), "validation_errors": [*fo.validation_errors, *fd.validation_errors]}

    async def reset(self) -> None:
        """Forget everything recorded so far (the fakes keep every uploaded byte otherwise)."""
        fo, fd = self.openai, self.discord
        fo.event_log.clear()
        fo._scripts.clear()  # scripts of jobs that never reached OpenAI (e.g. refused) must not pace the next run
        fo.generations.clear()
        fo.requests.clear()
        fo.stored.clear()
        fd.calls.clear()
        fd.messages.clear()
        fd.cdn.clear()
        fd.interactions.clear()
        for session in fd.gateway.sessions.values():
            session.backlog.clear()
        fd.gateway.received.clear()


_RPC = frozenset({"add_users", "queue_scripts", "invoke", "cpu", "collect", "reset"})


@dataclass
class Upload:
    source: str  # "bot" | "floor"
    interaction_id: int | None
    response_id: str | None
    kind: str  # "partial" | "final"
    index: int
    written: float | None  # fake OpenAI: just before the event carrying this image was written
    received: float  # fake Discord: once the upload's body was read
    size: int
    same_bytes: bool


def _option(payload: dict[str, Any], name: str) -> str | None:
    for option in payload.get("data", {}).get("options", []):
        if option.get("name") == name:
            return str(option.get("value"))
    return None


# --------------------------------------------------------------------------- the two ways to run them


class InProcessFakes:
    """The fakes in the bot's own event loop (as the tests run them); their CPU counts against the bot."""

    def __init__(self, config: FakesConfig) -> None:
        self.host = FakesHost(config)
        self.info: dict[str, Any] = {}

    async def start(self) -> None:
        self.info = await self.host.start()

    async def call(self, name: str, **kwargs: Any) -> Any:
        return await self.host.call(name, kwargs)

    async def stop(self) -> None:
        await self.host.stop()


class ProcessFakes:
    """The fakes in a child process, driven over a pipe."""

    def __init__(self, config: FakesConfig) -> None:
        self.config = config
        self.info: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._conn: Connection | None = None
        self._process: Any = None

    async def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=serve, args=(child, asdict(self.config)), name="bench-fakes", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        status, value = await asyncio.to_thread(parent.recv)
        if status != "ok":
            raise RuntimeError(f"the fakes did not start: {value}")
        self.info = value

    def _rpc(self, name: str, kwargs: dict[str, Any]) -> Any:
        assert self._conn is not None
        self._conn.send((name, kwargs))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"fakes call {name} failed: {value}")
        return value

    async def call(self, name: str, **kwargs: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(self._rpc, name, kwargs)

    async def stop(self) -> None:
        if self._conn is None:
            return
        async with self._lock:
            with contextlib.suppress(EOFError, OSError, RuntimeError):
                await asyncio.to_thread(self._rpc, "stop", {})
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()
        self._conn = None


def serve(conn: Connection, config: dict[str, Any]) -> None:
    """Child process entry point: run the fakes until told to stop (or the parent goes away)."""
    asyncio.run(_serve(conn, FakesConfig(**config)))


async def _serve(conn: Connection, config: FakesConfig) -> None:
    host = FakesHost(config)
    try:
        info = await host.start()
    except Exception as exc:
        conn.send(("error", repr(exc)))
        raise
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def read() -> None:
        try:
            while True:
                try:
                    name, kwargs = conn.recv()
                except (EOFError, OSError):
                    return
                if name == "stop":
                    conn.send(("ok", None))
                    return
                future = asyncio.run_coroutine_threadsafe(host.call(name, kwargs), loop)
                try:
                    conn.send(("ok", future.result()))
                except Exception as exc:
                    conn.send(("error", repr(exc)))
        finally:
            loop.call_soon_threadsafe(stopped.set)

    conn.send(("ok", info))
    threading.Thread(target=read, name="bench-fakes-rpc", daemon=True).start()
    await stopped.wait()
    await host.stop()
