"""/usage: what a member has spent today and this month; managers also see the server's total and top spenders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.costs import format_usd
from bot.core.i18n import tr
from bot.discord_adapter.i18n import month_and_year, say
from bot.storage import BotStore

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

TOP_SPENDERS = 5
# Which OpenAI key paid (README "A server's own OpenAI key"): shown only when a server's own key paid anything.
SERVERS_KEYS_PAID = tr("Of this month, paid with servers' own OpenAI keys")
SERVER_KEY_PAID = tr("Of the server's month, paid with its own OpenAI key")


@dataclass(frozen=True)
class Periods:
    """Starts of the current UTC calendar day and month: spend resets at UTC midnight, budgets too."""

    day: datetime
    month: datetime


def periods(now: datetime) -> Periods:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Periods(day=day, month=day.replace(day=1))


class UsageCog(commands.Cog, name="Usage"):
    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="usage", description="See what your images cost today and this month")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def usage(self, interaction: discord.Interaction) -> None:
        store = self.bot.store
        since = periods(self.bot.clock())
        locale = interaction.locale
        embed = await own_spend_embed(store, interaction.user.id, since, locale)
        if interaction.guild_id is not None and can_see_server_spend(interaction.permissions):
            await add_server_spend(embed, store, interaction.guild_id, since, locale)
        await interaction.response.send_message(embed=embed, ephemeral=True)


def can_see_server_spend(permissions: discord.Permissions) -> bool:
    # Manage Server is what Discord itself requires for server-wide settings; spend is that kind of data.
    # Discord resolves administrators to every permission; checking the flag too costs nothing.
    return permissions.manage_guild or permissions.administrator


async def own_spend_embed(
    store: BotStore, user_id: int, since: Periods, locale: discord.Locale | None = None
) -> discord.Embed:
    today = await store.spend(since=since.day, user_id=user_id)
    month = await store.spend(since=since.month, user_id=user_id)
    embed = discord.Embed(title=say(tr("Your image spend"), locale), colour=discord.Colour.blurple())
    embed.add_field(name=say(tr("Today"), locale), value=format_usd(today))
    embed.add_field(name=month_and_year(since.month, locale), value=format_usd(month))
    own_keys = await store.spend(since=since.month, user_id=user_id, paid_by="server")
    if own_keys:
        embed.add_field(name=say(SERVERS_KEYS_PAID, locale), value=format_usd(own_keys), inline=False)
    embed.set_footer(text=say(tr("UTC days and months, all servers. Failed or blocked images cost nothing."), locale))
    return embed


async def add_server_spend(
    embed: discord.Embed, store: BotStore, guild_id: int, since: Periods, locale: discord.Locale | None = None
) -> None:
    today = await store.spend(since=since.day, guild_id=guild_id)
    month = await store.spend(since=since.month, guild_id=guild_id)
    embed.add_field(name=say(tr("Server today"), locale), value=format_usd(today), inline=False)
    embed.add_field(name=say(tr("Server, {month}", month=month_and_year(since.month, locale)), locale),
                    value=format_usd(month))
    own_key = await store.spend(since=since.month, guild_id=guild_id, paid_by="server")
    if own_key:
        embed.add_field(name=say(SERVER_KEY_PAID, locale), value=format_usd(own_key), inline=False)
    top = await store.top_spenders(guild_id, since.month, limit=TOP_SPENDERS)
    lines = [f"{rank}. <@{user_id}> {format_usd(micros)}" for rank, (user_id, micros) in enumerate(top, 1)]
    embed.add_field(name=say(tr("Top spenders this month"), locale),
                    value="\n".join(lines) or say(tr("Nobody yet."), locale), inline=False)


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(UsageCog(bot))
