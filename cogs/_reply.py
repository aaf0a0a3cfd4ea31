"""One safe way to update an interaction's reply, aware of the 15-minute token."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import discord

log = logging.getLogger(__name__)

# Stop using the interaction webhook a little before Discord does, so an edit in flight can't straddle expiry.
TOKEN_MARGIN = datetime.timedelta(seconds=30)


class Reply:
    """The bot's reply to one interaction: webhook edits while the token lives, its own routes after."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.message_id: int | None = None
        self.channel_id = interaction.channel_id

    def token_alive(self) -> bool:
        return discord.utils.utcnow() + TOKEN_MARGIN < self.interaction.expires_at

    async def edit(self, **fields: Any) -> discord.Message:
        if self.token_alive():
            message: discord.Message = await self.interaction.edit_original_response(**fields)
        else:
            message = await self._edit_with_bot_token(**fields)
        self.message_id = message.id
        self.channel_id = message.channel.id
        return message

    async def _edit_with_bot_token(self, **fields: Any) -> discord.Message:
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable) or not hasattr(channel, "get_partial_message"):
            raise RuntimeError("the reply's channel is unknown")
        if self.message_id is not None:
            return await channel.get_partial_message(self.message_id).edit(**fields)
        # Never edited while the token lived: the "thinking…" message can't be reached, so post anew.
        files = fields.pop("attachments", None)
        fields = {k: v for k, v in fields.items() if v is not None}
        log.info("interaction token expired; posting the reply as a new message")
        return await channel.send(files=files or [], **fields)


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """Tell only the caller something, whatever state the interaction is in."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True)
    elif not interaction.is_expired():
        await interaction.followup.send(text, ephemeral=True)
    else:
        log.info("could not tell user %s privately (token expired): %s", interaction.user.id, text)
