"""Gateway half of the fake: HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME and dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_state import INTENT_MESSAGE_CONTENT

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

HEARTBEAT_INTERVAL_MS = 41250


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    # zlib-stream shares one compressor per connection; every frame ends with Z_SYNC_FLUSH.
    compressor: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: GatewaySession | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload)
        async with self.lock:  # keeps compressor order == wire order
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionResetError):
                if self.compressor is not None:
                    c = self.compressor
                    await self.ws.send_bytes(c.compress(data.encode()) + c.flush(zlib.Z_SYNC_FLUSH))
                else:
                    await self.ws.send_str(data)


@dataclass(eq=False)
class GatewaySession:
    session_id: str
    intents: int
    seq: int = 0
    backlog: list[dict[str, Any]] = field(default_factory=list)  # for RESUME replays
    conn: Connection | None = None
    shard: tuple[int, int] = (0, 1)

    def owns(self, guild_id: int | None) -> bool:
        """Discord's routing: guild events go to shard (guild_id >> 22) % count, DMs to shard 0."""
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id

    def dispatched(self, event: str) -> list[dict[str, Any]]:
        return [frame["d"] for frame in self.backlog if frame["t"] == event]


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[Connection] = set()
        self.received: list[dict[str, Any]] = []  # every client frame, for assertions
        self.identifies: list[dict[str, Any]] = []
        self.identified_at: list[float] = []  # time.monotonic() of each IDENTIFY, for spacing assertions
        self.resumes: list[dict[str, Any]] = []
        self.compress: list[str | None] = []  # the ?compress= of each connection, in order

    @property
    def intents(self) -> int | None:
        return self.identifies[-1]["intents"] if self.identifies else None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        # zstd-stream (asked for when `zstandard` is importable) is answered with text frames, which discord.py
        # accepts; zlib-stream is real.
        self.compress.append(request.query.get("compress"))
        compressor = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        conn = Connection(ws, compressor)
        self.connections.add(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await self._on_frame(conn, json.loads(msg.data.decode()))
        finally:
            self.connections.discard(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
        return ws

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        self.received.append(frame)
        op, d = frame.get("op"), frame.get("d")
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, d)
        elif op == 6:
            await self._resume(conn, d)
        elif op == 8 and conn.session is not None:
            members = [self.fake.member(uid) for uid in self.fake.users]
            await self._send_dispatch(conn.session, "GUILD_MEMBERS_CHUNK", {
                "guild_id": str(d.get("guild_id") or self.fake.guild_id), "members": members,
                "chunk_index": 0, "chunk_count": 1,
                "nonce": d.get("nonce"), "not_found": [],
            })
        # op 3 (presence) and 4 (voice state) are accepted and ignored.

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        self.identifies.append(d)
        self.identified_at.append(time.monotonic())
        if d.get("token") != self.fake.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard_id, shard_count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = GatewaySession(secrets.token_hex(16), int(d.get("intents", 0)), conn=conn,
                                 shard=(shard_id, shard_count))
        self.sessions[session.session_id] = session
        conn.session = session
        fake = self.fake
        guilds = [gid for gid in fake.guild_ids if session.owns(gid)]
        await self._send_dispatch(session, "READY", {
            "v": 10, "user": fake.bot_user, "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
            "session_id": session.session_id, "resume_gateway_url": fake.gateway_url,
            "application": {"id": str(fake.app_id), "flags": 0}, "private_channels": [], "relationships": [],
            "session_type": "normal", "shard": [shard_id, shard_count], "_trace": ["fake-discord"],
        })
        for gid in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", fake.guild_payload(gid))

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or d.get("token") != self.fake.token:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        session.conn, conn.session = conn, session
        seq = int(d.get("seq") or 0)
        for frame in session.backlog:
            if frame["s"] > seq:
                await conn.send(frame)
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _send_dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "s": session.seq, "t": event, "d": data}
        session.backlog.append(frame)
        if session.conn is not None:
            await session.conn.send(frame)

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0,
                       strip_content: bool = False) -> None:
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        for session in list(self.sessions.values()):
            if intent and not session.intents & intent:
                continue
            if not session.owns(guild_id):
                continue
            payload = data
            if strip_content and not session.intents & INTENT_MESSAGE_CONTENT:
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._send_dispatch(session, event, payload)

    async def force_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py reconnects and RESUMEs."""
        for conn in list(self.connections):
            await conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord stopping")
