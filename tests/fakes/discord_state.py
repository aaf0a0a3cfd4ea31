"""Data model, Discord limits and payload builders shared by the fake Discord modules.

Everything here is plain data: no aiohttp, no event loop. Payload builders emit the exact
shapes discord.py 2.7.1's model constructors need (as read from discord.py's source).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

# Route templates as recorded in ``Call.route`` (the path below /api/v10). They mirror the
# templates in discord.py's ``Route(...)`` calls so tests can grep one vocabulary.
USERS_ME = "/users/@me"
USER = "/users/{user_id}"
USER_DM = "/users/@me/channels"
LEAVE_GUILD = "/users/@me/guilds/{guild_id}"
APP_INFO = "/oauth2/applications/@me"
GATEWAY = "/gateway"
GATEWAY_BOT = "/gateway/bot"
GLOBAL_COMMANDS = "/applications/{application_id}/commands"
GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
WEBHOOK_MESSAGE = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
CHANNEL = "/channels/{channel_id}"
MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"
MESSAGE_THREADS = "/channels/{channel_id}/messages/{message_id}/threads"
THREADS = "/channels/{channel_id}/threads"
THREAD_MEMBER_ME = "/channels/{channel_id}/thread-members/@me"
TYPING = "/channels/{channel_id}/typing"
GUILD_MEMBER = "/guilds/{guild_id}/members/{user_id}"

# Message flags (https://discord.com/developers/docs/resources/message#message-object-message-flags).
HAS_THREAD = 1 << 5
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway intents that gate the events this fake dispatches.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

ALL_PERMISSIONS = (1 << 53) - 1
PERMISSIONS = {  # the subset the REST routes check (discord.Permissions flag names)
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
}
# What an ordinary member has in an ordinary channel: talk, attach, embed, read, open and talk in threads.
MEMBER_PERMISSIONS = sum(PERMISSIONS[name] for name in (
    "view_channel", "send_messages", "embed_links", "attach_files", "read_message_history",
    "create_public_threads", "send_messages_in_threads"))
THREAD_TYPES = {10, 11, 12}
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
DISCORD_EPOCH_MS = 1420070400000
MAX_REQUEST_BYTES = 25 * 1024 * 1024  # Discord's documented per-request cap


class DiscordError(Exception):
    """An error response in Discord's shape: ``{"code", "message", "errors"?}``."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def form_error(errors: dict[str, Any]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


_counter = itertools.count()
_last_id = 0


def snowflake() -> int:
    """A real-looking, strictly increasing snowflake so ``created_at`` is meaningful."""
    global _last_id
    candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22 | (next(_counter) & 0xFFF)
    _last_id = max(candidate, _last_id + 1)
    return _last_id


def iso(ts: dt.datetime | None = None) -> str:
    return (ts or dt.datetime.now(dt.UTC)).isoformat()


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class Call:
    method: str
    path: str
    route: str  # template, e.g. "/channels/{channel_id}/messages"; "" for unhandled paths
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[UploadedFile]
    t: float
    status: int = 0
    response: Any = None
    received: float = 0.0  # time.monotonic() once the whole request body was read


@dataclass
class FakeAttachment:
    id: int
    filename: str
    content_type: str
    data: bytes = field(repr=False)  # images are large; keep reprs readable
    url: str
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id), "filename": self.filename, "size": self.size, "url": self.url,
            "proxy_url": self.url, "content_type": self.content_type, "ephemeral": self.ephemeral, "flags": 0,
        }
        size = _image_size(self.data)
        if size is not None:  # Discord reads an image's dimensions and sends them with the attachment
            payload["width"], payload["height"] = size
        if self.description is not None:  # Discord leaves it out rather than sending null
            payload["description"] = self.description
        return payload


@dataclass
class FakeMessage:
    id: int
    channel_id: int
    author_id: int
    guild_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    flags: int = 0
    components: list[dict[str, Any]] = field(default_factory=list)
    type: int = 0
    nonce: str | int | None = None
    webhook_id: int | None = None
    interaction_id: int | None = None
    reference: dict[str, Any] | None = None
    position: int | None = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    edited_at: dt.datetime | None = None
    deleted: bool = False
    # Who Discord notified for this message's content ("user:<id>", "role:<id>", "everyone"), by allowed_mentions.
    pinged: set[str] = field(default_factory=set)
    # Earlier versions, oldest first: every edit appends the version it replaces.
    history: list[FakeMessage] = field(default_factory=list, repr=False)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    def snapshot(self) -> FakeMessage:
        clone = copy.copy(self)
        clone.embeds = copy.deepcopy(self.embeds)
        clone.attachments = list(self.attachments)
        clone.components = copy.deepcopy(self.components)
        clone.history = []
        return clone

    def versions(self) -> list[FakeMessage]:
        """Every version ever shown, oldest first, ending with the current one."""
        return [*self.history, self]

    def is_empty(self) -> bool:
        return not (self.content or self.embeds or self.attachments or self.components)


@dataclass
class FakeInteraction:
    id: int
    token: str
    name: str
    channel_id: int
    guild_id: int | None
    user_id: int
    created_at: float  # on the fake clock (FakeDiscord.now())
    attachment_size_limit: int
    payload: dict[str, Any]
    acked_at: float | None = None
    ack_type: int | None = None
    original_message_id: int | None = None
    deferred: bool = False
    ephemeral: bool = False
    modal: dict[str, Any] | None = None
    followup_ids: list[int] = field(default_factory=list)
    message_id: int | None = None  # component interactions: the message whose button was clicked


# ----------------------------------------------------------------------------- validation


def _embed_errors(embeds: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    total = 0
    too_long = "BASE_TYPE_MAX_LENGTH"
    for i, embed in enumerate(embeds):
        e: dict[str, Any] = {}
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                e[key] = field_error(too_long, f"Must be {limit} or fewer in length.")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            e["footer"] = {"text": field_error(too_long, "Must be 2048 or fewer in length.")}
        if len(author) > 256:
            e["author"] = {"name": field_error(too_long, "Must be 256 or fewer in length.")}
        fields = embed.get("fields") or []
        if len(fields) > 25:
            e["fields"] = field_error(too_long, "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            total += len(f.get("name") or "") + len(f.get("value") or "")
            for key, limit in (("name", 256), ("value", 1024)):
                if len(f.get(key) or "") > limit:
                    e.setdefault("fields", {}).setdefault(str(j), {})[key] = field_error(
                        too_long, f"Must be {limit} or fewer in length."
                    )
        if e:
            errors[str(i)] = e
    if total > 6000:
        errors.setdefault("_errors", []).append(
            {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
        )
    return errors


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only
            return image.size
    except Exception:  # not an image Discord would recognise: no dimensions
        return None


def pinged_by(content: str, allowed: dict[str, Any] | None) -> set[str]:
    """The mentions in `content` Discord turns into notifications: all of them unless `allowed_mentions` says
    otherwise (its `parse` types, plus the `users`/`roles` it lists)."""
    parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
    users = {str(u) for u in (allowed or {}).get("users") or []}
    roles = {str(r) for r in (allowed or {}).get("roles") or []}
    out = {f"user:{u}" for u in re.findall(r"<@!?(\d+)>", content) if "users" in parse or u in users}
    out |= {f"role:{r}" for r in re.findall(r"<@&(\d+)>", content) if "roles" in parse or r in roles}
    if "everyone" in parse and re.search(r"@(everyone|here)\b", content):
        out.add("everyone")
    return out


def validate_message(payload: dict[str, Any], files: list[UploadedFile], *, size_limit: int) -> None:
    """Discord's create/edit message limits; raises DiscordError like the real API."""
    if any(len(f.data) > size_limit for f in files):
        # Real Discord rejects oversized uploads before looking at the form.
        raise DiscordError(413, 40005, "Request entity too large")
    errors: dict[str, Any] = {}
    content = payload.get("content") or ""
    if not isinstance(content, str):
        errors["content"] = field_error("STRING_TYPE_CONVERT", "Could not interpret value as string.")
    elif len(content) > 2000:
        errors["content"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    elif embed_errors := _embed_errors(embeds):
        errors["embeds"] = embed_errors
    if len(files) > 10:
        errors["files"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if errors:
        raise form_error(errors)


def validate_thread_body(body: dict[str, Any]) -> None:
    errors: dict[str, Any] = {}
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        errors["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_DURATIONS:
        errors["auto_archive_duration"] = field_error(
            "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
        )
    if errors:
        raise form_error(errors)


# ----------------------------------------------------------------------------- payloads


def user_payload(user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id), "username": username, "discriminator": "0", "global_name": username,
        "avatar": None, "bot": bot, "public_flags": 0, "flags": 0, "banner": None, "accent_color": None,
        "primary_guild": None,
    }


def member_payload(user: dict[str, Any], roles: list[int], *, permissions: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user": user, "roles": [str(r) for r in roles], "joined_at": iso(), "deaf": False, "mute": False,
        "flags": 0, "nick": None, "avatar": None, "pending": False, "premium_since": None,
        "communication_disabled_until": None,
    }
    if permissions is not None:  # only interaction payloads carry resolved permissions
        out["permissions"] = str(permissions)
    return out


def role_payload(role_id: int, name: str, position: int, permissions: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(role_id), "name": name, "permissions": str(permissions), "position": position,
        "color": 0, "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None,
        "unicode_emoji": None, **extra,
    }


def channel_payload(channel_id: int, ch_type: int, name: str, *, guild_id: int | None, position: int = 0,
                    **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(channel_id), "type": ch_type, "name": name, "position": position,
        "permission_overwrites": [], "nsfw": False, "parent_id": None, "last_message_id": None,
        "rate_limit_per_user": 0, "flags": 0, "topic": None,
    }
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    if ch_type == 15:
        out.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None,
                   default_forum_layout=0, default_thread_rate_limit_per_user=0)
    if ch_type == 2:
        out.update(bitrate=64000, user_limit=0, rtc_region=None)
    out.update(extra)
    return out


def thread_payload(thread_id: int, parent: dict[str, Any], name: str, owner_id: int, *, ch_type: int = 11,
                   auto_archive_duration: int = 1440, invitable: bool = True) -> dict[str, Any]:
    return {
        "id": str(thread_id), "type": ch_type, "guild_id": parent.get("guild_id"), "parent_id": parent["id"],
        "owner_id": str(owner_id), "name": name, "message_count": 0, "member_count": 1,
        "total_message_sent": 0, "rate_limit_per_user": 0, "flags": 0, "applied_tags": [],
        "last_message_id": None,
        "thread_metadata": {
            "archived": False, "auto_archive_duration": auto_archive_duration, "archive_timestamp": iso(),
            "locked": False, "invitable": invitable, "create_timestamp": iso(),
        },
    }


def reference_payload(sent: dict[str, Any], channel_id: int) -> dict[str, Any]:
    """A message_reference as Discord returns it: the type filled in, ids as strings, request-only keys gone."""
    out: dict[str, Any] = {"type": sent.get("type") or 0, "channel_id": str(sent.get("channel_id") or channel_id)}
    for key in ("message_id", "guild_id"):
        if sent.get(key) is not None:
            out[key] = str(sent[key])
    return out


def message_payload(msg: FakeMessage, author: dict[str, Any], *,
                    referenced: dict[str, Any] | None = None, thread: dict[str, Any] | None = None,
                    ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(msg.id), "channel_id": str(msg.channel_id), "type": msg.type, "content": msg.content,
        "author": author, "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at) if msg.edited_at else None,
        "attachments": [a.to_payload() for a in msg.attachments], "embeds": copy.deepcopy(msg.embeds),
        "mentions": [], "mention_roles": [], "mention_everyone": False, "components": msg.components,
        "flags": msg.flags, "pinned": False, "tts": False, "reactions": [],
    }
    if msg.guild_id is not None:
        out["guild_id"] = str(msg.guild_id)
    if msg.nonce is not None:
        out["nonce"] = msg.nonce
    if msg.webhook_id is not None:
        out["webhook_id"] = str(msg.webhook_id)
        out["application_id"] = str(msg.webhook_id)
    if msg.position is not None:
        out["position"] = msg.position
    if msg.reference is not None:
        out["message_reference"] = reference_payload(msg.reference, msg.channel_id)
        out["referenced_message"] = referenced
    if thread is not None:
        out["thread"] = thread
    return out
