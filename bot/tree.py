"""The command tree: every command error ends in a reply, never in "This interaction failed"."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from cogs._reply import send_private

log = logging.getLogger(__name__)

ALREADY_ACKNOWLEDGED = 40060
GENERIC = "Sorry, something went wrong on my side. Please try again in a moment."


class ThreadpaintTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", None)
        if isinstance(original, discord.HTTPException) and original.code == ALREADY_ACKNOWLEDGED:
            # Another delivery of this interaction owns the reply; editing it would clobber that job.
            log.warning("interaction %s was already acknowledged; not replying again", interaction.id)
            return
        if isinstance(error, app_commands.TransformerError | app_commands.CheckFailure):
            message = _input_message(error)
            log.info("rejected input from %s: %s", interaction.user.id, error)
        else:
            message = GENERIC
            command = interaction.command.name if interaction.command else "?"
            log.error("command /%s failed (interaction %s)", command, interaction.id, exc_info=error)
        try:
            if interaction.response.is_done() and not interaction.is_expired():
                # The reply may already show a status line; turn it into the explanation.
                await interaction.edit_original_response(content=f"❌ {message}", embed=None, attachments=[])
            else:
                await send_private(interaction, message)
        except discord.HTTPException:
            log.warning("could not report the error to %s", interaction.user.id)


def _input_message(error: app_commands.AppCommandError) -> str:
    if isinstance(error, app_commands.TransformerError):
        limit = getattr(error.transformer, "max_value", None)
        if isinstance(error.value, str) and limit is not None and len(error.value) > limit:
            return f"That text is {len(error.value)} characters long; the limit is {limit}."
        low, high = getattr(error.transformer, "min_value", None), limit
        if isinstance(error.value, int | float) and low is not None and high is not None:
            return f"That number must be from {low} to {high}."
        return "One of the options has a value I can't use. Please check it and try again."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    return "You can't use this command here."
