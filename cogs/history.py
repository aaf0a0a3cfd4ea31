"""/history: the turns of this conversation, who asked for what, what it cost, and where each result is."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.contact_sheet import Tile, render_contact_sheet
from bot.core.costs import format_usd
from bot.core.i18n import Text, tr, tr_n
from bot.core.models import Turn
from bot.core.text import escape, shorten
from bot.discord_adapter.i18n import say
from bot.discord_adapter.reply import send_private
from bot.discord_adapter.surface import fetch_message_image
from bot.storage.privacy import ChainHistory

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

NO_CONVERSATION = tr(
    "There's no conversation here. Use /history inside a thread I opened on an image "
    "(or a channel where I posted results)."
)
TITLE = tr("Conversation history")
# Discord's embed limits; the total counts title, description, field names and values, and the footer.
EMBED_TOTAL = 6000
FIELD_VALUE = 1024
FIELD_NAME = 256
MAX_FIELDS = 25
# Room kept for the link line and labels of each field, on top of the prompt texts.
MIN_TEXT = 40
SHEET_NAME = "history.png"
# Images fetched back from Discord at once for the contact sheet: each can be megabytes.
FETCHES_AT_ONCE = 4


class History(commands.Cog):
    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Show the turns of this conversation and their costs")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def history(self, interaction: discord.Interaction) -> None:
        channel_id = interaction.channel_id
        assert channel_id is not None  # slash commands always come from a channel
        chain = await self.bot.store.chain_history(channel_id, limit=MAX_FIELDS)
        if not chain.turns:
            await send_private(interaction, NO_CONVERSATION)
            return
        # Private: prompts and costs are shown on request, not posted into the conversation for everyone. Fetching
        # the images for the contact sheet takes longer than Discord's 3 seconds, so acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed = history_embed(chain, interaction.guild_id, interaction.locale)
        sheet = await render_contact_sheet(await self._tiles(chain))
        embed.set_image(url=f"attachment://{SHEET_NAME}")
        await interaction.edit_original_response(
            embed=embed, attachments=[discord.File(io.BytesIO(sheet), filename=SHEET_NAME)]
        )

    async def _tiles(self, chain: ChainHistory) -> list[Tile]:
        """The shown turns' results, fetched back from their Discord messages, numbered as in the list."""
        first = chain.total - len(chain.turns) + 1
        numbers = {turn.id: number for number, turn in enumerate(chain.turns, first)}
        gate = asyncio.Semaphore(FETCHES_AT_ONCE)

        async def image(turn: Turn) -> bytes | None:
            if turn.status != "done" or turn.reply_channel_id is None or turn.reply_message_id is None:
                return None
            async with gate:
                return await fetch_message_image(self.bot, turn.reply_channel_id, turn.reply_message_id)

        images = await asyncio.gather(*(image(turn) for turn in chain.turns))
        return [
            Tile(numbers[turn.id], data, numbers.get(turn.parent_turn_id) if turn.parent_turn_id else None)
            for turn, data in zip(chain.turns, images, strict=True)
        ]


def history_embed(
    chain: ChainHistory, guild_id: int | None, locale: discord.Locale | str | None = None
) -> discord.Embed:
    """One field per turn, each given an equal share of the 6000-character embed budget."""
    footer = say(footer_text(chain), locale)
    title = say(TITLE, locale)
    turns = chain.turns[-MAX_FIELDS:]
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    embed.set_footer(text=footer)
    names = [field_name(index, turn) for index, turn in enumerate(turns, chain.total - len(turns) + 1)]
    share = (EMBED_TOTAL - len(title) - len(footer)) // len(turns)
    for name, turn in zip(names, turns, strict=True):
        value = field_value(turn, guild_id, min(FIELD_VALUE, share - len(name)), locale)
        embed.add_field(name=name, value=value, inline=False)
    # The shares are exact unless a field hit its minimum text; then the oldest turns make room.
    while len(embed) > EMBED_TOTAL and len(embed.fields) > 1:
        embed.remove_field(0)
    return embed


def footer_text(chain: ChainHistory) -> Text:
    shown, cost = len(chain.turns), format_usd(chain.total_cost_micros)
    if shown == chain.total:
        return tr_n("{count} turn · total cost {cost}", "{count} turns · total cost {cost}", chain.total, cost=cost)
    return tr_n("newest {shown} of {count} turn · total cost {cost}", "newest {shown} of {count} turns · total cost "
                "{cost}", chain.total, shown=shown, cost=cost)


def field_name(number: int, turn: Turn) -> str:
    when = f" · {turn.created_at:%Y-%m-%d %H:%M} UTC" if turn.created_at else ""
    return shorten(f"{number}. {turn.kind}{when}", FIELD_NAME)


def field_value(turn: Turn, guild_id: int | None, budget: int, locale: discord.Locale | str | None = None) -> str:
    """Who and cost, the prompt and revised prompt (shortened to share `budget`), and the link."""
    head = f"<@{turn.user_id}> · {format_usd(turn.cost_micros)}"
    link = result_link(turn, guild_id)
    tail = "\n" + say(tr("[Open the result]({link})", link=link), locale) if link else ""
    prompt_label = "\n" + say(tr("**Prompt:**"), locale) + " "
    revised_label = "\n" + say(tr("**Revised:**"), locale) + " "
    room = max(budget - len(head) - len(tail) - len(prompt_label), MIN_TEXT)
    # Escaped: a prompt must not be able to fake the "Open the result" link or mention anyone.
    own, revised_text = escape(turn.prompt), escape(turn.revised_prompt or "")
    if revised_text:
        room -= len(revised_label)
        prompt = shorten(own, max(room // 2, room - len(revised_text)))
        revised = revised_label + shorten(revised_text, max(room - len(prompt), 1))
    else:
        prompt, revised = shorten(own, room), ""
    return head + prompt_label + prompt + revised + tail


def result_link(turn: Turn, guild_id: int | None) -> str | None:
    if turn.reply_channel_id is None or turn.reply_message_id is None:
        return None
    guild = turn.guild_id or guild_id
    return f"https://discord.com/channels/{guild or '@me'}/{turn.reply_channel_id}/{turn.reply_message_id}"


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(History(bot))
