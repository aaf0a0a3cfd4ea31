"""REST handlers for login, command sync, users, channels, messages and threads.

Handlers take a parsed ``Req`` and return ``(status, json_or_None)`` or raise ``DiscordError``;
discord_server.py does the HTTP plumbing (recording, faults, rate-limit headers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_state as s
from tests.fakes.discord_state import DiscordError, UploadedFile, field_error, form_error, snowflake

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord


@dataclass
class Req:
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]

    def id(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise form_error({name: field_error("NUMBER_TYPE_COERCE", "Value is not snowflake.")}) from None

    def body(self) -> dict[str, Any]:
        if self.json is None:
            return {}
        if not isinstance(self.json, dict):
            raise form_error({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used"}]})
        return self.json


Result = tuple[int, Any]
Handler = Callable[[Req], Awaitable[Result]]


class RestRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", s.USERS_ME, self.get_me),
            ("POST", s.USER_DM, self.create_dm),
            ("GET", s.USER, self.get_user),
            ("GET", s.APP_INFO, self.app_info),
            ("GET", s.GATEWAY, self.gateway),
            ("GET", s.GATEWAY_BOT, self.gateway_bot),
            ("PUT", s.GLOBAL_COMMANDS, self.put_commands),
            ("GET", s.GLOBAL_COMMANDS, self.get_commands),
            ("PUT", s.GUILD_COMMANDS, self.put_commands),
            ("GET", s.GUILD_COMMANDS, self.get_commands),
            ("GET", s.GUILD_MEMBER, self.get_member),
            ("GET", s.CHANNEL, self.get_channel),
            ("PATCH", s.CHANNEL, self.patch_channel),
            ("POST", s.TYPING, self.typing),
            ("GET", s.MESSAGES, self.list_messages),
            ("POST", s.MESSAGES, self.post_message),
            ("GET", s.MESSAGE, self.get_message),
            ("PATCH", s.MESSAGE, self.patch_message),
            ("DELETE", s.MESSAGE, self.delete_message),
            ("POST", s.MESSAGE_THREADS, self.thread_from_message),
            ("POST", s.THREADS, self.create_thread),
            ("PUT", s.THREAD_MEMBER_ME, self.join_thread),
            ("DELETE", s.LEAVE_GUILD, self.leave_guild),
        ]

    # ------------------------------------------------------------------ login and application

    async def get_me(self, req: Req) -> Result:
        return 200, self.fake.bot_user

    async def get_user(self, req: Req) -> Result:
        user = self.fake.users.get(req.id("user_id"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return 200, user

    async def create_dm(self, req: Req) -> Result:
        uid = int(req.body().get("recipient_id") or 0)
        if uid not in self.fake.users:
            raise DiscordError(404, 10013, "Unknown User")
        return 200, self.fake.channels[self.fake.dm_channel_id(uid)]

    async def app_info(self, req: Req) -> Result:
        f = self.fake
        return 200, {
            "id": str(f.app_id), "name": "threadpaint", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": f.users[f.user_id], "verify_key": "00" * 32, "flags": 0,
            "interactions_endpoint_url": None, "team": None, "summary": "", "bot": f.bot_user,
        }

    async def gateway(self, req: Req) -> Result:
        return 200, {"url": self.fake.gateway_url}

    async def gateway_bot(self, req: Req) -> Result:
        return 200, {"url": self.fake.gateway_url, "shards": self.fake.recommended_shards, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}}

    async def put_commands(self, req: Req) -> Result:
        guild_id = req.id("guild_id") if "guild_id" in req.params else None
        if guild_id is not None and guild_id not in self.fake.guild_ids:
            raise DiscordError(403, 50001, "Missing Access")
        if not isinstance(req.json, list):
            raise form_error({"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used"}]})
        previous = {c["name"]: c["id"] for c in self.fake.synced_commands.get(guild_id, [])}
        errors: dict[str, Any] = {}
        out = []
        for i, cmd in enumerate(req.json):
            name, desc = cmd.get("name") or "", cmd.get("description") or ""
            if not 1 <= len(name) <= 32 or (cmd.get("type", 1) == 1 and not 1 <= len(desc) <= 100):
                errors[str(i)] = {"name": field_error("APPLICATION_COMMAND_INVALID", "Invalid command")}
            # Stable ids across re-syncs, like Discord for unchanged names.
            synced = {**cmd, "id": previous.get(name) or str(snowflake()), "application_id": str(self.fake.app_id),
                      "version": str(snowflake()), "type": cmd.get("type", 1),
                      # Discord returns an empty description for user and message commands.
                      "description": desc,
                      "default_member_permissions": cmd.get("default_member_permissions")}
            if guild_id is not None:
                synced["guild_id"] = str(guild_id)
            out.append(synced)
        if errors:
            raise form_error(errors)
        self.fake.synced_commands[guild_id] = out
        return 200, out

    async def get_commands(self, req: Req) -> Result:
        guild_id = req.id("guild_id") if "guild_id" in req.params else None
        return 200, self.fake.synced_commands.get(guild_id, [])

    async def get_member(self, req: Req) -> Result:
        uid = req.id("user_id")
        if req.id("guild_id") not in self.fake.guild_ids or uid not in self.fake.users:
            raise DiscordError(404, 10007, "Unknown Member")
        return 200, self.fake.member(uid)

    # ------------------------------------------------------------------ channels and threads

    async def get_channel(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.check_permission(cid, "view_channel")
        return 200, self.fake.channel(cid)

    async def patch_channel(self, req: Req) -> Result:
        cid = req.id("channel_id")
        ch = self.fake.channel(cid)
        body = req.body()
        if ch["type"] in s.THREAD_TYPES:
            if "name" in body or "auto_archive_duration" in body:
                s.validate_thread_body({"name": body.get("name", ch["name"]),
                                        "auto_archive_duration": body.get("auto_archive_duration")})
            allowed = ("name", "archived", "locked", "auto_archive_duration", "invitable", "rate_limit_per_user",
                       "applied_tags")
            changes = {k: v for k, v in body.items() if k in allowed}
            return 200, await self.fake.update_thread(cid, **changes)
        ch.update({k: v for k, v in body.items() if k in ("name", "topic", "nsfw", "rate_limit_per_user")})
        await self.fake.dispatch("CHANNEL_UPDATE", ch, intent=s.INTENT_GUILDS)
        return 200, ch

    async def typing(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.channel(cid)
        self.fake.check_permission(cid, "send_messages")
        return 204, None

    def _writable(self, cid: int, payload: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        """Permission and thread-state checks shared by channel sends."""
        ch = self.fake.channel(cid)
        is_thread = ch["type"] in s.THREAD_TYPES
        self.fake.check_permission(cid, "send_messages_in_threads" if is_thread else "send_messages")
        if files:
            self.fake.check_permission(cid, "attach_files")
        if payload.get("embeds"):
            self.fake.check_permission(cid, "embed_links")
        if is_thread and ch["thread_metadata"]["locked"] and ch["thread_metadata"]["archived"]:
            raise DiscordError(400, 160005, "Thread is locked")
        return ch

    async def post_message(self, req: Req) -> Result:
        cid = req.id("channel_id")
        payload = req.body()
        ch = self._writable(cid, payload, req.files)
        nonce = payload.get("nonce")
        if payload.get("enforce_nonce") and nonce is not None:
            # A retried send with the same nonce returns the first message instead of duplicating it.
            previous = self.fake._nonces.get((cid, str(nonce)))
            if previous is not None:
                return 200, self.fake.serialize(self.fake.messages[previous])
        s.validate_message(payload, req.files, size_limit=self.fake.attachment_size_limit)
        if ch["type"] in s.THREAD_TYPES and ch["thread_metadata"]["archived"]:
            await self.fake.update_thread(cid, archived=False)  # a send unarchives an unlocked thread
        msg = await self.fake.create_message(cid, self.fake.app_id, payload, req.files,
                                             size_limit=self.fake.attachment_size_limit)
        if nonce is not None:
            self.fake._nonces[(cid, str(nonce))] = msg.id
        return 200, self.fake.serialize(msg)

    async def list_messages(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.channel(cid)
        self.fake.check_permission(cid, "read_message_history")
        limit = max(1, min(100, int(req.query.get("limit", 50))))
        before, after = int(req.query.get("before", 1 << 63)), int(req.query.get("after", 0))
        found = sorted((m for m in self.fake.messages.values()
                        if m.channel_id == cid and not m.deleted and not m.ephemeral and after < m.id < before),
                       key=lambda m: m.id, reverse="after" not in req.query)
        return 200, [self.fake.serialize(m) for m in found[:limit]]

    async def get_message(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.check_permission(cid, "read_message_history")
        return 200, self.fake.serialize(self.fake.visible_message(cid, req.id("message_id")))

    async def patch_message(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.channel(cid)
        self.fake.check_access(cid)  # Discord answers 403 50001 before looking at the message
        msg = self.fake.visible_message(cid, req.id("message_id"))
        if msg.author_id != self.fake.app_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        ch = self.fake.channel(cid)
        if ch["type"] in s.THREAD_TYPES and ch["thread_metadata"]["archived"]:
            raise DiscordError(400, 50083, "Thread is archived")
        await self.fake.edit_message(msg, req.body(), req.files, size_limit=self.fake.attachment_size_limit)
        return 200, self.fake.serialize(msg)

    async def delete_message(self, req: Req) -> Result:
        cid = req.id("channel_id")
        self.fake.channel(cid)
        self.fake.check_access(cid)
        await self.fake.delete_message(self.fake.visible_message(cid, req.id("message_id")))
        return 204, None

    async def leave_guild(self, req: Req) -> Result:
        gid = req.id("guild_id")
        if gid not in self.fake.guild_ids or gid in self.fake.left_guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        self.fake.left_guilds.append(gid)
        return 204, None

    async def thread_from_message(self, req: Req) -> Result:
        cid, mid = req.id("channel_id"), req.id("message_id")
        parent = self.fake.channel(cid)
        if parent["type"] not in (0, 5):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        self.fake.check_permission(cid, "create_public_threads")
        msg = self.fake.visible_message(cid, mid)
        if mid in self.fake.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        body = req.body()
        s.validate_thread_body(body)
        # Discord: a thread started from a message has the message's id.
        thread = await self.fake.add_thread(mid, cid, body["name"], self.fake.app_id,
                                            ch_type=10 if parent["type"] == 5 else 11,
                                            auto_archive_duration=body.get("auto_archive_duration") or 1440)
        msg.flags |= s.HAS_THREAD
        return 201, thread

    async def create_thread(self, req: Req) -> Result:
        cid = req.id("channel_id")
        parent = self.fake.channel(cid)
        body = req.body()
        s.validate_thread_body(body)
        duration = body.get("auto_archive_duration") or 1440
        if parent["type"] == 15:
            return await self._forum_post(cid, body, req.files, duration)
        if parent["type"] not in (0, 5):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        ch_type = int(body.get("type") or 12)  # Discord (and discord.py) default to a private thread
        if ch_type not in (10, 11, 12):
            raise form_error({"type": field_error("BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")})
        self.fake.check_permission(cid, "create_private_threads" if ch_type == 12 else "create_public_threads")
        thread = await self.fake.add_thread(snowflake(), cid, body["name"], self.fake.app_id, ch_type=ch_type,
                                            auto_archive_duration=duration,
                                            invitable=bool(body.get("invitable", True)))
        return 201, thread

    async def _forum_post(self, cid: int, body: dict[str, Any], files: list[UploadedFile], duration: int) -> Result:
        self.fake.check_permission(cid, "send_messages")
        message = body.get("message")
        if not isinstance(message, dict):
            raise form_error({"message": field_error("BASE_TYPE_REQUIRED", "This field is required")})
        s.validate_message(message, files, size_limit=self.fake.attachment_size_limit)
        tid = snowflake()
        thread = await self.fake.add_thread(tid, cid, body["name"], self.fake.app_id,
                                            auto_archive_duration=duration)
        thread["applied_tags"] = list(body.get("applied_tags") or [])
        # Forum starter messages share the thread's id.
        msg = await self.fake.create_message(tid, self.fake.app_id, message, files,
                                             size_limit=self.fake.attachment_size_limit, msg_id=tid)
        return 201, {**thread, "message": self.fake.serialize(msg)}

    async def join_thread(self, req: Req) -> Result:
        ch = self.fake.channel(req.id("channel_id"))
        if ch["type"] not in s.THREAD_TYPES:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return 204, None
