"""One safe way to update the bot's reply, aware of the 15-minute interaction token."""

from __future__ import annotations

import datetime
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.core.i18n import Message
from bot.discord_adapter.i18n import say

log = logging.getLogger(__name__)

MISSING: Any = discord.utils.MISSING
# Stop using the interaction webhook a little before Discord does, so an edit in flight can't straddle expiry.
TOKEN_MARGIN = datetime.timedelta(seconds=30)
# Discord's answers when the interaction webhook can no longer be used: expired token, unknown webhook.
TOKEN_GONE = {50027, 10015}
UNKNOWN_MESSAGE = 10008


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes

    def file(self) -> discord.File:
        # A fresh File per request: discord.py consumes the stream, and a fallback route must upload it again.
        return discord.File(SharedBytesIO(self.data), filename=self.filename)


class SharedBytesIO(io.BytesIO):
    """A read-only BytesIO over an image that aiohttp uploads without first copying it, freed once sent.

    BytesIO shares the bytes it starts from until it is written to or `getbuffer` exports it; aiohttp's multipart
    payload calls `getbuffer` just to learn the length, and so copied every upload (2 MB per image in flight).
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._data = data

    def getbuffer(self) -> memoryview:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        return memoryview(self._data)  # read-only, and the contents: nothing can write to this stream

    def __setattr__(self, name: str, value: Any) -> None:
        # discord.File stubs out `close` during a request and afterwards puts back the stream's own bound `close`
        # as an instance attribute: a reference cycle that kept every uploaded image alive until a full garbage
        # collection (100 MB at 50 jobs). Putting back our own `close` just removes the stub.
        if name == "close" and getattr(value, "__self__", None) is self and getattr(value, "__name__", "") == "close":
            self.__dict__.pop("close", None)
            return
        super().__setattr__(name, value)

    def writable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        raise io.UnsupportedOperation("write")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("truncate")


class Reply:
    """The bot's reply: edited through the interaction webhook while its token lives, the bot's own routes after."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        *,
        interaction: discord.Interaction | None = None,
        message_id: int | None = None,
        clock: Callable[[], datetime.datetime] = discord.utils.utcnow,
    ) -> None:
        self.channel = channel
        self.interaction = interaction
        self.message_id = message_id
        self._clock = clock
        self._webhook_usable = interaction is not None

    def token_alive(self) -> bool:
        if not self._webhook_usable or self.interaction is None:
            return False
        return self._clock() + TOKEN_MARGIN < self.interaction.expires_at

    async def edit(
        self, *, content: str | None = MISSING, embed: discord.Embed | None = MISSING,
        uploads: list[Upload] | None = None, view: discord.ui.View | None = MISSING,
    ) -> discord.Message:
        fields: dict[str, Any] = {}
        if content is not MISSING:
            fields["content"] = content
        if embed is not MISSING:
            fields["embed"] = embed
        if view is not MISSING:
            fields["view"] = view
        if self.token_alive():
            assert self.interaction is not None
            try:
                message = await self.interaction.edit_original_response(**fields, attachments=_files(uploads))
            except discord.HTTPException as exc:
                if exc.code not in TOKEN_GONE | {UNKNOWN_MESSAGE}:
                    raise
                log.info("interaction webhook unusable (%s); using the bot's own routes", exc.code)
                self._webhook_usable = False
                if exc.code == UNKNOWN_MESSAGE:
                    self.message_id = None  # someone deleted the reply
            else:
                self.message_id = message.id
                return message
        return await self._edit_as_bot(fields, uploads)

    async def _edit_as_bot(self, fields: dict[str, Any], uploads: list[Upload] | None) -> discord.Message:
        if self.message_id is not None:
            partial = _partial_message(self.channel, self.message_id)
            try:
                return await partial.edit(**fields, attachments=_files(uploads))
            except discord.NotFound:
                log.info("reply %s was deleted; posting a new message", self.message_id)
            except discord.Forbidden as exc:
                # After the token expired this route needs access to the reply's channel (50001 when it was
                # lost, 50013 for a permission); a new message may still go through where the old can't change.
                log.info("reply %s can't be edited (%s); posting a new message", self.message_id, exc.code)
        extra: dict[str, Any] = {key: fields[key] for key in ("embed", "view") if fields.get(key)}
        files = [u.file() for u in uploads or []]
        message = await self.channel.send(content=fields.get("content") or None, files=files, **extra)
        self.message_id = message.id
        return message


def _files(uploads: list[Upload] | None) -> Any:
    return MISSING if uploads is None else [u.file() for u in uploads]


def _partial_message(channel: discord.abc.Messageable, message_id: int) -> discord.PartialMessage:
    getter = getattr(channel, "get_partial_message", None)
    if getter is None:
        raise TypeError(f"cannot edit messages in {type(channel).__name__}")
    partial: discord.PartialMessage = getter(message_id)
    return partial


async def replace_with_private(interaction: discord.Interaction, text: Message) -> bool:
    """Take the public reply away and tell only the caller instead; False if Discord refused either step."""
    try:
        await interaction.delete_original_response()
        await interaction.followup.send(say(text, interaction.locale), ephemeral=True)
    except discord.HTTPException:
        return False
    return True


async def send_private(interaction: discord.Interaction, message: Message) -> None:
    """Tell only the caller something (in their language), whatever state the interaction is in."""
    text = say(message, interaction.locale)
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True)
    elif not interaction.is_expired():
        await interaction.followup.send(text, ephemeral=True)
    else:
        log.info("could not tell user %s privately (token expired)", interaction.user.id)
