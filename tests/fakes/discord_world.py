"""The fake Discord's world: guild, users, channels, threads and messages, plus the rules that apply to them.

``DiscordWorld`` holds state and message semantics; transport (HTTP, gateway) lives elsewhere and reaches
the bot through ``dispatch``. ``FakeDiscord`` in discord_server.py subclasses it.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import secrets
import time
from typing import Any

from tests.fakes.discord_state import (
    ALL_PERMISSIONS,
    EPHEMERAL,
    HAS_THREAD,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    LOADING,
    PERMISSIONS,
    THREAD_TYPES,
    DiscordError,
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    UploadedFile,
    channel_payload,
    field_error,
    form_error,
    member_payload,
    message_payload,
    pinged_by,
    role_payload,
    snowflake,
    thread_payload,
    user_payload,
    validate_message,
)

DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
# Flags a sender may set itself: SUPPRESS_EMBEDS, EPHEMERAL (creation only), SUPPRESS_NOTIFICATIONS, IS_VOICE.
_SETTABLE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 13)


class DiscordWorld:
    def __init__(self) -> None:
        self._offset = 0.0
        self.base_url = ""  # "http://127.0.0.1:<port>", set once the server listens
        self.token = f"fake.{secrets.token_urlsafe(24)}"
        self.app_id = snowflake()
        # Modern applications share their id with the bot user.
        self.bot_user = user_payload(self.app_id, "threadpaint", bot=True)
        self.user_id, self.other_user_id = snowflake(), snowflake()
        self.users: dict[int, dict[str, Any]] = {
            self.app_id: self.bot_user,
            self.user_id: user_payload(self.user_id, "alice"),
            self.other_user_id: user_payload(self.other_user_id, "bob"),
        }
        # The permissions a member's interactions carry (computed for the channel); default: all of them.
        self.member_permissions: dict[int, int] = {}
        self.member_roles: dict[int, list[int]] = {}  # a member's role ids (ids of roles in self.roles)
        self.guild_id = snowflake()
        self.bot_role_id = snowflake()
        self.roles = [
            role_payload(self.guild_id, "@everyone", 0, PERMISSIONS["view_channel"] | PERMISSIONS["send_messages"]),
            role_payload(self.bot_role_id, "threadpaint", 1, ALL_PERMISSIONS, managed=True,
                         tags={"bot_id": str(self.app_id)}),
        ]
        self.text_channel_id, self.forum_channel_id, self.voice_channel_id = snowflake(), snowflake(), snowflake()
        self.channels: dict[int, dict[str, Any]] = {
            self.text_channel_id: channel_payload(self.text_channel_id, 0, "general", guild_id=self.guild_id),
            self.forum_channel_id: channel_payload(self.forum_channel_id, 15, "gallery", guild_id=self.guild_id,
                                                   position=1),
            self.voice_channel_id: channel_payload(self.voice_channel_id, 2, "voice", guild_id=self.guild_id,
                                                   position=2),
        }
        self.other_guilds: dict[int, str] = {}  # added with add_guild(), e.g. to land on another shard
        self.preferred_locale = "en-US"  # the server's language (Community servers set it), sent in GUILD_CREATE
        self.left_guilds: list[int] = []  # servers the bot left (DELETE /users/@me/guilds/{id})
        self.messages: dict[int, FakeMessage] = {}
        self.cdn: dict[int, FakeAttachment] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.synced_commands: dict[int | None, list[dict[str, Any]]] = {}  # None = global
        self.denied: dict[int, set[str]] = {}
        self._nonces: dict[tuple[int, str], int] = {}

    # ------------------------------------------------------------------ clock and transport hook

    def now(self) -> float:
        """Monotonic seconds plus whatever ``advance`` added; used for ack deadlines and token expiry."""
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0,
                       strip_content: bool = False) -> None:
        raise NotImplementedError  # provided by FakeDiscord (gateway)

    # ------------------------------------------------------------------ lookups and payloads

    def channel(self, channel_id: int) -> dict[str, Any]:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise DiscordError(404, 10003, "Unknown Channel") from None

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] in THREAD_TYPES]

    def dm_channel_id(self, user_id: int) -> int:
        for cid, ch in self.channels.items():
            if ch["type"] == 1 and ch["recipients"][0]["id"] == str(user_id):
                return cid
        cid = snowflake()
        self.channels[cid] = {"id": str(cid), "type": 1, "recipients": [self.users[user_id]],
                              "last_message_id": None, "flags": 0}
        return cid

    def guild_of(self, channel_id: int) -> int | None:
        gid = self.channels.get(channel_id, {}).get("guild_id")
        return int(gid) if gid else None

    def member(self, user_id: int, *, permissions: int | None = None) -> dict[str, Any]:
        roles = [self.bot_role_id] if user_id == self.app_id else list(self.member_roles.get(user_id, []))
        return member_payload(self.users[user_id], roles, permissions=permissions)

    @property
    def guild_ids(self) -> list[int]:
        return [self.guild_id, *self.other_guilds]

    def add_guild(self, name: str = "Other Guild", *, shard: tuple[int, int] | None = None) -> tuple[int, int]:
        """Another server the bot is in, with one text channel; `shard=(k, n)` picks an id Discord routes to
        shard k of n. Returns (guild id, text channel id)."""
        guild_id = snowflake()
        if shard is not None:
            k, n = shard
            ms = guild_id >> 22
            guild_id = (ms + (k - ms) % n) << 22
        self.other_guilds[guild_id] = name
        channel_id = snowflake()
        self.channels[channel_id] = channel_payload(channel_id, 0, "general", guild_id=guild_id)
        return guild_id, channel_id

    def guild_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        gid = guild_id or self.guild_id
        members = [self.member(uid) for uid in self.users]
        guild_channels = [c for c in self.channels.values()
                          if c.get("guild_id") == str(gid) and c["type"] not in THREAD_TYPES]
        threads = [t for t in self.threads() if t.get("guild_id") == str(gid)]
        roles = self.roles if gid == self.guild_id else [{**self.roles[0], "id": str(gid)}, *self.roles[1:]]
        name = "Fake Guild" if gid == self.guild_id else self.other_guilds[gid]
        return {
            "id": str(gid), "name": name, "icon": None, "owner_id": str(self.user_id),
            "roles": roles, "channels": guild_channels, "threads": threads, "members": members,
            # member_count == len(members) marks the guild as chunked: no op 8 member request.
            "member_count": len(members), "large": False, "unavailable": False, "features": [], "emojis": [],
            "stickers": [], "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [], "joined_at": "2026-01-01T00:00:00+00:00",
            "premium_tier": 0, "preferred_locale": self.preferred_locale, "mfa_level": 0, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "nsfw_level": 0,
            "afk_timeout": 300, "system_channel_id": None, "description": None,
        }

    def serialize(self, msg: FakeMessage, *, depth: int = 0) -> dict[str, Any]:
        referenced = None
        if msg.reference is not None and depth == 0:
            ref = self.messages.get(int(msg.reference.get("message_id", 0)))
            referenced = self.serialize(ref, depth=1) if ref and not ref.deleted else None
        thread = self.channels.get(msg.id) if msg.flags & HAS_THREAD else None
        return message_payload(msg, self.users[msg.author_id], referenced=referenced, thread=thread)

    def visible_message(self, channel_id: int, message_id: int) -> FakeMessage:
        """A message as the channel routes see it: ephemeral and deleted ones don't exist there."""
        msg = self.messages.get(message_id)
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def check_permission(self, channel_id: int, perm: str) -> None:
        ch = self.channels.get(channel_id, {})
        denied = self.denied.get(channel_id, set()) | self.denied.get(int(ch.get("parent_id") or 0), set())
        if "view_channel" in denied:
            raise DiscordError(403, 50001, "Missing Access")
        if perm in denied:
            raise DiscordError(403, 50013, "Missing Permissions")

    def check_access(self, channel_id: int) -> None:
        """403 50001 Missing Access when the bot can no longer see the channel (or its parent)."""
        ch = self.channels.get(channel_id, {})
        denied = self.denied.get(channel_id, set()) | self.denied.get(int(ch.get("parent_id") or 0), set())
        if "view_channel" in denied:
            raise DiscordError(403, 50001, "Missing Access")

    def app_permissions(self, channel_id: int) -> int:
        perms = ALL_PERMISSIONS
        for name in self.denied.get(channel_id, set()):
            perms &= ~PERMISSIONS[name]
        return perms

    # ------------------------------------------------------------------ messages

    def _store_file(self, channel_id: int, upload: UploadedFile, meta: dict[str, Any] | None,
                    *, ephemeral: bool = False) -> FakeAttachment:
        att_id = snowflake()
        filename = (meta or {}).get("filename") or upload.filename
        # Real Discord sniffs the type; discord.py uploads everything as application/octet-stream.
        content_type = mimetypes.guess_type(filename)[0] or upload.content_type
        att = FakeAttachment(att_id, filename, content_type, upload.data,
                             f"{self.base_url}/cdn/attachments/{channel_id}/{att_id}/{filename}",
                             description=(meta or {}).get("description"), ephemeral=ephemeral)
        self.cdn[att_id] = att
        return att

    def _attachments(self, channel_id: int, files: list[UploadedFile], meta: list[dict[str, Any]] | None,
                     existing: list[FakeAttachment]) -> list[FakeAttachment]:
        """Discord's keep/replace rule: listed existing ids stay, ``{"id": n}`` refers to ``files[n]``."""
        by_field = {f.field: f for f in files}
        if meta is None:
            return existing + [self._store_file(channel_id, f, None) for f in files]
        keep = {a.id: a for a in existing}
        out: list[FakeAttachment] = []
        for i, entry in enumerate(meta):
            try:
                ref = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                raise form_error({"attachments": {str(i): {"id": field_error(
                    "ATTACHMENT_NOT_FOUND", "Attachment id is missing or invalid.")}}}) from None
            if ref in keep:
                out.append(keep[ref])
            elif (upload := by_field.pop(f"files[{ref}]", None)) is not None:
                out.append(self._store_file(channel_id, upload, entry))
            else:
                raise form_error({"attachments": {str(i): {"id": field_error(
                    "ATTACHMENT_NOT_FOUND", f"Unknown attachment or file field files[{ref}].")}}})
        return out + [self._store_file(channel_id, f, None) for f in by_field.values()]

    async def dispatch_message(self, event: str, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return  # ephemeral messages never reach the gateway
        intent = INTENT_GUILD_MESSAGES if msg.guild_id else INTENT_DIRECT_MESSAGES
        # Without MESSAGE_CONTENT a bot only sees content of its own messages and DMs.
        strip = msg.guild_id is not None and msg.author_id != self.app_id
        await self.dispatch(event, self.serialize(msg), intent=intent, strip_content=strip)

    async def create_message(self, channel_id: int, author_id: int, payload: dict[str, Any],
                             files: list[UploadedFile], *, size_limit: int = DEFAULT_FILE_LIMIT,
                             webhook_id: int | None = None, interaction_id: int | None = None,
                             extra_flags: int = 0, msg_type: int = 0, allow_empty: bool = False,
                             msg_id: int | None = None) -> FakeMessage:
        validate_message(payload, files, size_limit=size_limit)
        ch = self.channel(channel_id)
        msg = FakeMessage(msg_id or snowflake(), channel_id, author_id, guild_id=self.guild_of(channel_id),
                          content=payload.get("content") or "", embeds=list(payload.get("embeds") or []),
                          components=list(payload.get("components") or []),
                          flags=(int(payload.get("flags") or 0) & _SETTABLE_FLAGS) | extra_flags,
                          type=msg_type, nonce=payload.get("nonce"), webhook_id=webhook_id,
                          interaction_id=interaction_id, reference=payload.get("message_reference"))
        msg.attachments = self._attachments(channel_id, files, payload.get("attachments"), [])
        msg.pinged = pinged_by(msg.content, payload.get("allowed_mentions"))
        if msg.is_empty() and not allow_empty:
            raise DiscordError(400, 50006, "Cannot send an empty message")
        if ch["type"] in THREAD_TYPES:
            msg.position = ch["total_message_sent"]
            ch["message_count"] += 1
            ch["total_message_sent"] += 1
        ch["last_message_id"] = str(msg.id)
        self.messages[msg.id] = msg
        await self.dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def edit_message(self, msg: FakeMessage, payload: dict[str, Any], files: list[UploadedFile],
                           *, size_limit: int = DEFAULT_FILE_LIMIT) -> FakeMessage:
        validate_message(payload, files, size_limit=size_limit)
        content = (payload["content"] or "") if "content" in payload else msg.content
        embeds = list(payload["embeds"] or []) if "embeds" in payload else msg.embeds
        components = list(payload["components"] or []) if "components" in payload else msg.components
        attachments = (self._attachments(msg.channel_id, files, payload["attachments"], msg.attachments)
                       if "attachments" in payload or files else msg.attachments)
        if not (content or embeds or components or attachments):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        msg.history.append(msg.snapshot())
        msg.content, msg.embeds, msg.components, msg.attachments = content, embeds, components, attachments
        if "content" in payload:  # a deferred reply's content first appears (and notifies) through an edit
            msg.pinged |= pinged_by(content, payload.get("allowed_mentions"))
        if "flags" in payload and payload["flags"] is not None:
            msg.flags = (msg.flags & ~(1 << 2)) | (int(payload["flags"]) & (1 << 2))
        msg.flags &= ~LOADING  # the first edit of a deferred response ends "is thinking..."
        msg.edited_at = dt.datetime.now(dt.UTC)
        await self.dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    async def delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id:
                data["guild_id"] = str(msg.guild_id)
            intent = INTENT_GUILD_MESSAGES if msg.guild_id else INTENT_DIRECT_MESSAGES
            await self.dispatch("MESSAGE_DELETE", data, intent=intent)

    # ------------------------------------------------------------------ threads (test helpers too)

    async def add_thread(self, thread_id: int, parent_id: int, name: str, owner_id: int, *, ch_type: int = 11,
                         auto_archive_duration: int = 1440, invitable: bool = True) -> dict[str, Any]:
        thread = thread_payload(thread_id, self.channel(parent_id), name, owner_id, ch_type=ch_type,
                                auto_archive_duration=auto_archive_duration, invitable=invitable)
        self.channels[thread_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, intent=INTENT_GUILDS)
        return thread

    async def update_thread(self, thread_id: int, **changes: Any) -> dict[str, Any]:
        thread = self.channels[thread_id]
        meta = thread["thread_metadata"]
        for key, value in changes.items():
            if key in ("archived", "locked", "auto_archive_duration", "invitable"):
                meta[key] = value
                if key == "archived":
                    meta["archive_timestamp"] = dt.datetime.now(dt.UTC).isoformat()
            else:
                thread[key] = value
        await self.dispatch("THREAD_UPDATE", thread, intent=INTENT_GUILDS)
        return thread

    async def create_user_thread(self, parent_id: int, name: str, owner_id: int | None = None) -> int:
        """A public thread started by a human (no starter message); dispatches THREAD_CREATE."""
        tid = snowflake()
        await self.add_thread(tid, parent_id, name, owner_id or self.user_id)
        return tid

    async def create_forum_post(self, name: str, owner_id: int | None = None, content: str = "first post") -> int:
        """A post in the forum channel; like Discord, the starter message id equals the thread id."""
        owner = owner_id or self.user_id
        tid = snowflake()
        await self.add_thread(tid, self.forum_channel_id, name, owner)
        msg = FakeMessage(tid, tid, owner, guild_id=self.guild_id, content=content, position=0)
        self.messages[tid] = msg
        self.channels[tid].update(message_count=1, total_message_sent=1, last_message_id=str(tid))
        await self.dispatch_message("MESSAGE_CREATE", msg)
        return tid

    async def archive_thread(self, thread_id: int, locked: bool = False) -> None:
        await self.update_thread(thread_id, archived=True, locked=locked)

    async def send_user_message(self, channel_id: int, content: str, user_id: int | None = None) -> FakeMessage:
        """A human posts in a channel or thread; dispatches MESSAGE_CREATE."""
        return await self.create_message(channel_id, user_id or self.user_id, {"content": content}, [])
