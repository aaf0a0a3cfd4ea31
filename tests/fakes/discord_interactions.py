"""Interactions: building INTERACTION_CREATE payloads, the callback route and the webhook (token) routes."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_state as s
from tests.fakes.discord_rest import Handler, Req, Result
from tests.fakes.discord_state import (
    LOADING,
    DiscordError,
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    field_error,
    form_error,
    snowflake,
)

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

CHAT_INPUT_RESPONSE = 20  # message type of an interaction's response message


def option_payload(name: str, value: Any) -> dict[str, Any]:
    """Python value → application command option. bool before int: bool is an int subclass."""
    if isinstance(value, dict):  # explicit {"type": ..., "value": ...} for other option types
        return {"name": name, **value}
    if isinstance(value, bool):
        kind = 5
    elif isinstance(value, int):
        kind = 4
    elif isinstance(value, float):
        kind = 10
    elif isinstance(value, str):
        kind = 3
    else:
        raise TypeError(f"option {name!r}: unsupported value {value!r}")
    return {"name": name, "type": kind, "value": value}


class InteractionRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", s.CALLBACK, self.callback),
            ("POST", s.WEBHOOK, self.followup),
            # @original first: aiohttp tries resources in registration order.
            ("GET", s.ORIGINAL, self.get_message),
            ("PATCH", s.ORIGINAL, self.edit_message),
            ("DELETE", s.ORIGINAL, self.delete_message),
            ("GET", s.WEBHOOK_MESSAGE, self.get_message),
            ("PATCH", s.WEBHOOK_MESSAGE, self.edit_message),
            ("DELETE", s.WEBHOOK_MESSAGE, self.delete_message),
        ]

    # ------------------------------------------------------------------ building interactions

    def build_slash(self, name: str, options: dict[str, Any] | None, *, channel_id: int | None, user_id: int | None,
                    guild: bool, attachments: dict[str, tuple[str, bytes, str]] | None, subcommand: str | None,
                    app_permissions: int | None, locale: str, attachment_size_limit: int | None,
                    ) -> FakeInteraction:
        f = self.fake
        uid = user_id or f.user_id
        cid = channel_id or (f.text_channel_id if guild else f.dm_channel_id(uid))
        limit = attachment_size_limit or f.attachment_size_limit
        opts = [option_payload(k, v) for k, v in (options or {}).items()]
        resolved: dict[str, Any] = {}
        for opt_name, (filename, data, content_type) in (attachments or {}).items():
            att_id = snowflake()
            att = FakeAttachment(att_id, filename, content_type, data,
                                 f"{f.base_url}/cdn/attachments/{cid}/{att_id}/{filename}", ephemeral=True)
            f.cdn[att_id] = att
            resolved.setdefault("attachments", {})[str(att_id)] = att.to_payload()
            opts.append({"name": opt_name, "type": 11, "value": str(att_id)})
        for opt in opts:  # user/channel/role options: Discord sends the id plus the object under resolved
            self._resolve_snowflake(opt, resolved)
        for part in reversed((subcommand or "").split()):  # "group sub" nests as type 2 → type 1
            opts = [{"name": part, "type": 1 if not opts or opts[0].get("type") != 1 else 2, "options": opts}]
        gid = f.guild_of(cid)
        guild_cmds = {c["name"]: c for c in f.synced_commands.get(gid, [])} if guild and gid else {}
        synced = guild_cmds.get(name) or {c["name"]: c for c in f.synced_commands.get(None, [])}.get(name)
        data: dict[str, Any] = {"id": synced["id"] if synced else str(snowflake()), "name": name, "type": 1,
                                "options": opts}
        if resolved:
            data["resolved"] = resolved
        if name in guild_cmds:  # discord.py looks guild commands up by data.guild_id
            data["guild_id"] = str(gid)
        payload = self._base_payload(cid, uid, kind=2, data=data, guild=guild, app_permissions=app_permissions,
                                     locale=locale, limit=limit)
        return self._register(payload, name, cid, uid, guild=guild, limit=limit)

    def build_component(self, message_id: int, custom_id: str, *, user_id: int | None,
                        channel_id: int | None, forged: bool = False, locale: str = "en-US") -> FakeInteraction:
        """A button click (type 3) on a message the bot sent; the button must exist on that message.

        `forged=True` skips that check: what a modified client or a stale cache can send. The bot must not rely
        on Discord to keep custom ids honest (they are sequential turn ids)."""
        f = self.fake
        msg = f.messages.get(message_id)
        if msg is None or msg.deleted:
            raise ValueError(f"no message {message_id} to click on")
        buttons = [c for row in msg.components for c in row.get("components", [])]
        if not forged and not any(b.get("custom_id") == custom_id and not b.get("disabled") for b in buttons):
            raise ValueError(f"message {message_id} has no enabled button {custom_id!r}")
        uid = user_id or f.user_id
        cid = channel_id or msg.channel_id
        payload = self._base_payload(cid, uid, kind=3, data={"custom_id": custom_id, "component_type": 2},
                                     guild=msg.guild_id is not None, locale=locale)
        payload["message"] = f.serialize(msg)
        if forged:  # the payload claims the message carries the button, or discord.py would drop the click
            payload["message"]["components"] = [{"type": 1, "components": [
                {"type": 2, "style": 2, "label": "forged", "custom_id": custom_id}]}]
        return self._register(payload, custom_id, cid, uid, guild=msg.guild_id is not None, message_id=message_id)

    def build_modal_submit(self, opened_by: FakeInteraction, values: dict[str, str]) -> FakeInteraction:
        """The member submits the modal the bot answered `opened_by` with (INTERACTION_CREATE type 5)."""
        f = self.fake
        if opened_by.modal is None:
            raise ValueError(f"interaction {opened_by.id} was not answered with a modal")
        rows = []
        for row in opened_by.modal["components"]:
            inputs = []
            for component in row.get("components", []):
                if component.get("custom_id") not in values and component.get("required", True):
                    raise ValueError(f"modal input {component.get('custom_id')!r} is required")
                inputs.append({"type": 4, "custom_id": component["custom_id"],
                               "value": values.get(component["custom_id"], "")})
            rows.append({"type": 1, "components": inputs})
        # The same member submits it, so the same client locale.
        payload = self._base_payload(opened_by.channel_id, opened_by.user_id, kind=5,
                                     data={"custom_id": opened_by.modal["custom_id"], "components": rows},
                                     locale=opened_by.payload.get("locale", "en-US"))
        if opened_by.message_id is not None:
            payload["message"] = f.serialize(f.messages[opened_by.message_id])
        return self._register(payload, opened_by.modal["custom_id"], opened_by.channel_id, opened_by.user_id,
                              message_id=opened_by.message_id)

    def build_message_command(self, name: str, target_message_id: int, *, user_id: int | None) -> FakeInteraction:
        """A message context-menu command (application command type 3) on `target_message_id`."""
        f = self.fake
        target = f.messages[target_message_id]
        uid = user_id or f.user_id
        synced = {c["name"]: c for c in f.synced_commands.get(None, [])}.get(name)
        data = {"id": synced["id"] if synced else str(snowflake()), "name": name, "type": 3,
                "target_id": str(target_message_id),
                "resolved": {"messages": {str(target_message_id): f.serialize(target)}}}
        payload = self._base_payload(target.channel_id, uid, kind=2, data=data)
        return self._register(payload, name, target.channel_id, uid)

    def _base_payload(self, channel_id: int, user_id: int, *, kind: int, data: dict[str, Any],
                      guild: bool | None = None, app_permissions: int | None = None, locale: str = "en-US",
                      limit: int | None = None) -> dict[str, Any]:
        """The fields every INTERACTION_CREATE carries; a guild member, or a user in DMs."""
        f = self.fake
        guild_id = f.guild_of(channel_id) or f.guild_id
        in_guild = f.guild_of(channel_id) is not None if guild is None else guild
        perms = f.app_permissions(channel_id) if app_permissions is None else app_permissions
        payload: dict[str, Any] = {
            "id": str(snowflake()), "application_id": str(f.app_id), "type": kind, "data": data,
            "token": secrets.token_urlsafe(48), "version": 1, "locale": locale, "app_permissions": str(perms),
            "entitlements": [], "entitlement_sku_ids": [],
            "attachment_size_limit": limit or f.attachment_size_limit, "channel_id": str(channel_id),
            "channel": {**f.channel(channel_id), "permissions": str(perms)},
            "context": 0 if in_guild else 1,
            "authorizing_integration_owners": {"0": str(guild_id) if in_guild else "0"},
        }
        if in_guild:
            payload.update(guild_id=str(guild_id), guild_locale="en-US",
                           guild={"id": str(guild_id), "locale": "en-US", "features": []},
                           member=f.member(user_id, permissions=f.member_permissions.get(user_id, s.ALL_PERMISSIONS)))
        else:
            payload["user"] = f.users[user_id]
        return payload

    def _register(self, payload: dict[str, Any], name: str, channel_id: int, user_id: int, *,
                  guild: bool | None = None, limit: int | None = None,
                  message_id: int | None = None) -> FakeInteraction:
        f = self.fake
        in_guild = f.guild_of(channel_id) is not None if guild is None else guild
        inter = FakeInteraction(int(payload["id"]), payload["token"], name, channel_id,
                                (f.guild_of(channel_id) or f.guild_id) if in_guild else None, user_id, f.now(),
                                limit or f.attachment_size_limit, payload, message_id=message_id)
        f.interactions[inter.id] = inter
        return inter

    def _resolve_snowflake(self, opt: dict[str, Any], resolved: dict[str, Any]) -> None:
        """Option types 6/7/8 (``{"type": 7, "value": "<id>"}``) get their ``resolved`` entry, as Discord sends."""
        f, kind, key = self.fake, opt.get("type"), str(opt.get("value"))
        if kind == 6:
            resolved.setdefault("users", {})[key] = f.users[int(key)]
            member = f.member(int(key), permissions=s.ALL_PERMISSIONS)
            del member["user"]  # resolved members carry no user object
            resolved.setdefault("members", {})[key] = member
        elif kind == 7:
            resolved.setdefault("channels", {})[key] = {**f.channel(int(key)), "permissions": str(s.ALL_PERMISSIONS)}
        elif kind == 8:
            [role] = [r for r in f.roles if r["id"] == key]
            resolved.setdefault("roles", {})[key] = role

    # ------------------------------------------------------------------ callback

    async def callback(self, req: Req) -> Result:
        f = self.fake
        inter = f.interactions.get(req.id("interaction_id"))
        if inter is None or inter.token != req.params["interaction_token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if inter.acked_at is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if f.now() - inter.created_at > f.ack_deadline:
            raise DiscordError(404, 10062, "Unknown interaction")  # the 3-second window has passed
        body = req.body()
        kind, data = body.get("type"), body.get("data") or {}
        msg: FakeMessage | None = None
        common: dict[str, Any] = {"size_limit": inter.attachment_size_limit, "webhook_id": f.app_id,
                                  "interaction_id": inter.id, "msg_type": CHAT_INPUT_RESPONSE}
        if kind == 4:
            msg = await f.create_message(inter.channel_id, f.app_id, data, req.files, **common)
        elif kind == 5:
            msg = await f.create_message(inter.channel_id, f.app_id, {"flags": data.get("flags", 0)}, [],
                                         extra_flags=LOADING, allow_empty=True, **common)
            inter.deferred = True
        elif kind == 9:
            missing = [k for k in ("custom_id", "title", "components") if not data.get(k)]
            if missing:
                raise form_error({"data": {k: field_error("BASE_TYPE_REQUIRED", "This field is required")
                                           for k in missing}})
            inter.modal = data
        elif kind in (6, 7) and inter.message_id is not None:
            # Deferred update / update message: the clicked message becomes the response (@original).
            msg = f.messages[inter.message_id]
            if kind == 7:
                await f.edit_message(msg, data, req.files, size_limit=inter.attachment_size_limit)
        else:  # 6/7 only apply to component interactions
            raise form_error({"type": field_error("INTERACTION_RESPONSE_TYPE_INVALID",
                                                  "Invalid interaction response type")})
        inter.acked_at, inter.ack_type = f.now(), kind
        summary: dict[str, Any] = {"id": str(inter.id), "type": inter.payload["type"]}
        answer: dict[str, Any] = {"interaction": summary}
        if msg is not None:
            inter.original_message_id, inter.ephemeral = msg.id, msg.ephemeral
            summary.update(response_message_id=str(msg.id), response_message_loading=msg.loading,
                           response_message_ephemeral=msg.ephemeral)
        if kind in (4, 7) and msg is not None:  # Discord's description: a resource only for types 4, 7 and 12
            answer["resource"] = {"type": kind, "message": f.serialize(msg)}
        return 200, answer

    # ------------------------------------------------------------------ webhook (interaction token) routes

    def _interaction(self, req: Req) -> FakeInteraction:
        f = self.fake
        token = req.params["webhook_token"]
        inter = next((i for i in f.interactions.values() if i.token == token), None)
        if inter is None or req.id("webhook_id") != f.app_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if f.now() - inter.created_at > f.token_ttl:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return inter

    def _target(self, inter: FakeInteraction, req: Req) -> FakeMessage:
        raw = req.params.get("message_id", "@original")
        mid = inter.original_message_id if raw == "@original" else req.id("message_id")
        if mid is None or (mid != inter.original_message_id and mid not in inter.followup_ids):
            raise DiscordError(404, 10008, "Unknown Message")
        msg = self.fake.messages[mid]
        if msg.deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def get_message(self, req: Req) -> Result:
        return 200, self.fake.serialize(self._target(self._interaction(req), req))

    async def edit_message(self, req: Req) -> Result:
        inter = self._interaction(req)
        msg = self._target(inter, req)
        await self.fake.edit_message(msg, req.body(), req.files, size_limit=inter.attachment_size_limit)
        return 200, self.fake.serialize(msg)

    async def delete_message(self, req: Req) -> Result:
        await self.fake.delete_message(self._target(self._interaction(req), req))
        return 204, None

    async def followup(self, req: Req) -> Result:
        f = self.fake
        inter = self._interaction(req)
        if inter.acked_at is None:
            raise DiscordError(404, 10015, "Unknown Webhook")  # the token works only after the ack
        original = f.messages.get(inter.original_message_id or 0)
        if inter.deferred and original is not None and original.loading and not original.deleted:
            # Documented quirk: the first followup after a defer edits the "thinking..." message.
            msg = await f.edit_message(original, req.body(), req.files, size_limit=inter.attachment_size_limit)
        else:
            msg = await f.create_message(inter.channel_id, f.app_id, req.body(), req.files,
                                         size_limit=inter.attachment_size_limit, webhook_id=f.app_id,
                                         interaction_id=inter.id)
            inter.followup_ids.append(msg.id)
        if req.query.get("wait", "").lower() in ("1", "true"):
            return 200, f.serialize(msg)
        return 204, None
