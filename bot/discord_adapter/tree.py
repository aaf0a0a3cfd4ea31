"""The command tree: every command error ends in a reply, never in "This interaction failed"."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.core.i18n import Message, tr, tr_n
from bot.discord_adapter.i18n import say
from bot.discord_adapter.reply import send_private

log = logging.getLogger(__name__)

ALREADY_ACKNOWLEDGED = 40060
GENERIC = tr("Sorry, something went wrong on my side. Please try again in a moment.")
NOT_HERE = tr("This bot is private to its owner's servers, so it doesn't work here.")
NO_DMS = tr("I don't take commands in direct messages. Please use me in a server.")


class ThreadpaintTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The owner decides where the bot spends money: its servers (ALLOWED_GUILDS) and DMs (ALLOW_DMS).

        Elsewhere one private line, and no work at all: nothing is read, queued or sent to OpenAI.
        """
        return await allowed_here(interaction)

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", None)
        if isinstance(original, discord.HTTPException) and original.code == ALREADY_ACKNOWLEDGED:
            # Another delivery of this interaction owns the reply; editing it would clobber that job.
            log.warning("interaction %s was already acknowledged; not replying again", interaction.id)
            return
        if isinstance(error, app_commands.TransformerError | app_commands.CheckFailure):
            message: Message = _input_message(error)
            log.info("rejected input from %s: %s", interaction.user.id, error)
        else:
            message = GENERIC
            command = interaction.command.name if interaction.command else "?"
            log.error("command /%s failed (interaction %s)", command, interaction.id, exc_info=error)
        try:
            if interaction.response.is_done() and not interaction.is_expired():
                # The reply may already show a status line; turn it into the explanation.
                text = say(message, interaction.locale)
                await interaction.edit_original_response(content=f"❌ {text}", embed=None, attachments=[])
            else:
                await send_private(interaction, message)
        except discord.HTTPException:
            log.warning("could not report the error to %s", interaction.user.id)


def _input_message(error: app_commands.AppCommandError) -> Message:
    if isinstance(error, app_commands.TransformerError):
        limit = getattr(error.transformer, "max_value", None)
        if isinstance(error.value, str) and limit is not None and len(error.value) > limit:
            return tr_n("That text is {count} character long; the limit is {limit}.",
                        "That text is {count} characters long; the limit is {limit}.", len(error.value), limit=limit)
        low, high = getattr(error.transformer, "min_value", None), limit
        if isinstance(error.value, int | float) and low is not None and high is not None:
            return tr("That number must be from {low} to {high}.", low=low, high=high)
        return tr("One of the options has a value I can't use. Please check it and try again.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return tr("This command only works in a server.")
    return tr("You can't use this command here.")


async def allowed_here(interaction: discord.Interaction) -> bool:
    """Whether the owner lets the bot work where this interaction came from; if not, say so privately."""
    settings = getattr(interaction.client, "settings", None)
    if settings is None:
        return True
    if interaction.guild_id is None:
        problem = None if settings.allow_dms else NO_DMS
    elif settings.allowed_guilds is not None and interaction.guild_id not in settings.allowed_guilds:
        problem = NOT_HERE
    else:
        problem = None
    if problem is None:
        return True
    log.info("refused an interaction from %s in %s: %s", interaction.user.id, interaction.guild_id or "a DM", problem)
    try:
        await send_private(interaction, problem)
    except discord.HTTPException:
        log.warning("could not tell %s why the interaction was refused", interaction.user.id)
    return False
