"""The bot's earlier results as input images by id: found through a result message's buttons, or named by link.

`/edit results:` takes message links of the bot's results ("Copy Message Link"), so two results from different
threads can be combined; each is sent to OpenAI as an item_reference to its image_generation_call, and its
Discord message is the fallback when OpenAI no longer has it (bot.core.generation).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.core.errors import InvalidInput
from bot.core.i18n import tr, tr_n
from bot.core.models import ImageRef

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

LINK = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/channels/(?P<guild>\d+|@me)/(?P<channel>\d+)/(?P<message>\d+)"
)
RESULT_BUTTON = re.compile(r"tp:(?:edit|reroll):(?P<turn>\d+)")

# Member-facing text, from the catalogues (bot/locales).
NO_LINKS = tr("I found no message link in `results`. Right-click one of my results, choose Copy Message Link, and "
              "paste it there (several links may be separated by spaces).")
ELSEWHERE = tr("I can only use results from this server (or, in direct messages, from this conversation).")
NOT_VISIBLE = tr("I can't use that result: you can't see the channel it was posted in.")
GONE = tr("I couldn't find the message behind one of those links; it may have been deleted.")
NOT_A_RESULT = tr("One of those links isn't one of my finished results; only those can be used by link.")


async def result_reference(bot: ImageBot, message: discord.Message) -> ImageRef | None:
    """The image_generation_call behind one of the bot's own results, found through its buttons' turn id."""
    if bot.user is None or message.author.id != bot.user.id:
        return None  # only the bot's own messages carry trustworthy turn ids
    for row in message.components:
        for child in getattr(row, "children", []):
            match = RESULT_BUTTON.fullmatch(getattr(child, "custom_id", None) or "")
            if match is None:
                continue
            turn = await bot.store.get_turn(int(match["turn"]))
            if (turn is not None and turn.status == "done" and turn.image_call_id
                    and turn.reply_message_id == message.id):
                return ImageRef(turn.image_call_id, message.channel.id, message.id)
    return None


async def linked_results(
    bot: ImageBot, interaction: discord.Interaction, text: str, limit: int
) -> tuple[ImageRef, ...]:
    """The results named by the message links in `text`, in order; InvalidInput when one can't be used."""
    links = list(LINK.finditer(text))
    if not links:
        raise InvalidInput(NO_LINKS)
    if len(links) > limit:
        raise InvalidInput(tr_n("I can use at most {count} image at once (results and attachments together).",
                                "I can use at most {count} images at once (results and attachments together).",
                                limit))
    refs = []
    for link in links:
        channel_id, message_id = int(link["channel"]), int(link["message"])
        channel = await _visible_channel(bot, interaction, link["guild"], channel_id)
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException:
            raise InvalidInput(GONE) from None
        ref = await result_reference(bot, message)
        if ref is None:
            raise InvalidInput(NOT_A_RESULT)
        refs.append(ref)
    return tuple(refs)


async def _visible_channel(
    bot: ImageBot, interaction: discord.Interaction, guild: str, channel_id: int
) -> discord.abc.Messageable:
    """The linked channel, if the member may see it: the bot reads it with its own rights, so check theirs."""
    if interaction.guild is None:  # a DM: only this conversation
        if guild != "@me" or channel_id != interaction.channel_id or interaction.channel is None:
            raise InvalidInput(ELSEWHERE)
        return interaction.channel  # type: ignore[return-value]
    if guild != str(interaction.guild.id):
        raise InvalidInput(ELSEWHERE)
    channel = interaction.guild.get_channel_or_thread(channel_id)
    if channel is None:
        try:
            fetched = await bot.fetch_channel(channel_id)
        except discord.HTTPException:
            raise InvalidInput(GONE) from None
        channel = fetched if isinstance(fetched, discord.abc.GuildChannel | discord.Thread) else None
    member = interaction.user
    if (channel is None or channel.guild.id != interaction.guild.id or not isinstance(member, discord.Member)
            or not channel.permissions_for(member).view_channel or not isinstance(channel, discord.abc.Messageable)):
        raise InvalidInput(NOT_VISIBLE)
    return channel
