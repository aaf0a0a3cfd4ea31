"""/threadpaint settings …: per-server settings for members with Manage Server, stored at once and applied at once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import InvalidInput
from bot.core.guild_settings import (
    MAX_LISTED,
    MAX_PARTIAL_IMAGES,
    GuildSettings,
    budget_field,
    parse_dollars,
    summary_lines,
)
from bot.core.i18n import Message, join_lines, tr, tr_n
from bot.core.options import FORMATS, QUALITIES, SIZES
from bot.core.role_budgets import with_role_budget
from bot.core.text import shorten
from bot.discord_adapter.i18n import say
from bot.discord_adapter.server_keys import (
    KEY_REMOVED,
    KEY_REMOVED_NO_FALLBACK,
    KEY_SAVED,
    KEYS_OFF,
    NO_KEY_TO_REMOVE,
    KeyModal,
    check_key,
    key_line,
)
from bot.discord_adapter.settings_text import (
    EVERYONE_BUDGET,
    LOG_NEEDS_CHANNEL,
    LOG_OFF,
    SPOILER_NEEDS_CHANNEL,
    SPOILER_SAVED,
    edit_rules,
    log_cannot_post,
    log_on,
    missing_log_permissions,
    role_budget_saved,
    rules_headline,
    rules_listing,
)
from bot.storage import BotStore

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

Change = Callable[[GuildSettings], GuildSettings]
Action = Literal["add", "remove", "clear"]
NOT_A_MANAGER = tr("Only members with the **Manage Server** permission can change threadpaint's settings.")
NOT_IN_A_SERVER = tr("Settings belong to a server; use this command in one.")
# Discord's client only offers valid choices and ranges, but discord.py doesn't recheck them; a raw API call can
# send anything, and GuildSettings then refuses it with ValueError.
LOW_MODERATION_OFF = tr(
    "The bot's owner has not allowed lower moderation (it risks their OpenAI account), so moderation stays auto."
)
BAD_VALUE = tr("One of the options has a value I can't use. Please check it and try again.")
# Role and channel mentions in the summary must never ping anyone.
QUIET = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000


def _choices(values: tuple[str, ...]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=value, value=value) for value in values]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)  # a hint for Discord's client only; _store_for checks for real
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
class Settings(commands.GroupCog, group_name="threadpaint", group_description="threadpaint settings"):
    """/threadpaint settings: where and for whom the bot draws, its defaults, previews, editing and budgets."""

    settings = app_commands.Group(name="settings", description="Change how threadpaint works on this server")

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        super().__init__()

    # ------------------------------------------------------------------------------------------ commands

    @settings.command(name="show", description="Show this server's threadpaint settings")
    async def show(self, interaction: discord.Interaction) -> None:
        store = await self._store_for(interaction)
        if store is not None:
            await self._reply(interaction, await store.get_guild_settings(self._guild_id(interaction)), None)

    @settings.command(name="channels", description="Choose the channels the bot draws in (empty list = all)")
    @app_commands.describe(action="add or remove a channel, or clear the list", channel="A text or forum channel")
    async def channels(
        self,
        interaction: discord.Interaction,
        action: Action,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        # Forum channels count too: a forum post is a thread whose parent is the forum.
        mention = channel.mention if channel else None
        change = _edit_ids("allowed_channel_ids", action, channel.id if channel else None, mention, "channel")
        await self._apply(interaction, change, _list_headline(action, mention, tr("every channel")))

    @settings.command(name="roles", description="Choose the roles that may use the bot (empty list = everyone)")
    @app_commands.describe(action="add or remove a role, or clear the list", role="A role")
    async def roles(self, interaction: discord.Interaction, action: Action, role: discord.Role | None = None) -> None:
        if role is not None and role.is_default():
            await self._refuse(interaction, tr("Every member has @everyone; use `clear` to let everyone draw."))
            return
        mention = role.mention if role else None
        change = _edit_ids("allowed_role_ids", action, role.id if role else None, mention, "role")
        await self._apply(interaction, change, _list_headline(action, mention, tr("everyone")))

    @settings.command(name="defaults", description="Default size, quality and format for /draw and /edit")
    @app_commands.describe(
        size="Default size (left out: unchanged)", quality="Default quality (left out: unchanged)",
        format="Default file format (left out: unchanged)", reset="Clear all three first",
    )
    @app_commands.choices(size=_choices(SIZES), quality=_choices(QUALITIES), format=_choices(FORMATS))
    async def defaults(
        self,
        interaction: discord.Interaction,
        size: str | None = None,
        quality: str | None = None,
        format: str | None = None,
        reset: bool = False,
    ) -> None:
        def change(s: GuildSettings) -> GuildSettings:
            if reset:
                s = dataclasses.replace(s, default_size=None, default_quality=None, default_format=None)
            # The commands' own defaults are stored as None, so "auto" and "left alone" look the same.
            if size is not None:
                s = dataclasses.replace(s, default_size=_unless(size, "auto"))
            if quality is not None:
                s = dataclasses.replace(s, default_quality=_unless(quality, "auto"))
            if format is not None:
                s = dataclasses.replace(s, default_format=_unless(format, "png"))
            return s

        changed = reset or any(v is not None for v in (size, quality, format))
        await self._apply(interaction, change, tr("✅ Defaults saved.") if changed else tr("Nothing to change."))

    @settings.command(name="moderation", description="How strictly OpenAI filters images on this server")
    @app_commands.describe(level="auto is OpenAI's standard filtering; low is less restrictive")
    async def moderation(self, interaction: discord.Interaction, level: Literal["auto", "low"]) -> None:
        if level == "low" and not self.bot.settings.allow_low_moderation:
            # Lowering OpenAI's filtering risks the owner's OpenAI account: only the owner can allow it.
            await self._refuse(interaction, LOW_MODERATION_OFF)
            return
        await self._apply(interaction, _setter(moderation=level), tr("✅ Moderation is now {level}.", level=level))

    @settings.command(name="previews", description="How many previews to show while an image is drawn")
    @app_commands.describe(count="0–3; each preview costs a little extra")
    async def previews(self, interaction: discord.Interaction, count: app_commands.Range[int, 0, 3]) -> None:
        if not 0 <= count <= MAX_PARTIAL_IMAGES:
            await self._refuse(interaction, tr("count must be from 0 to {high}.", high=MAX_PARTIAL_IMAGES))
            return
        headline = tr("✅ Previews per image: {count}.", count=count)
        await self._apply(interaction, _setter(partial_images=count), headline)

    @settings.command(name="editing", description="Who may /edit a picture in its thread")
    @app_commands.describe(who="anyone in the thread, or only its starter and moderators")
    @app_commands.choices(who=[
        app_commands.Choice(name="anyone who can talk in the thread", value="anyone"),
        app_commands.Choice(name="the thread's starter and moderators", value="starter"),
    ])
    async def editing(self, interaction: discord.Interaction, who: str) -> None:
        await self._apply(interaction, _setter(edit_policy=who), tr("✅ Editing rule saved."))

    @settings.command(name="images", description="Whose images members may take with \"Edit image\"")
    @app_commands.describe(who="own: their own messages and my results; anyone: any message they can see")
    @app_commands.choices(who=[
        app_commands.Choice(name="their own messages and the bot's results", value="own"),
        app_commands.Choice(name="any member's message", value="anyone"),
    ])
    async def images(self, interaction: discord.Interaction, who: str) -> None:
        await self._apply(interaction, _setter(edit_others_images=who == "anyone"), tr("✅ Edit image rule saved."))

    @settings.command(name="budget", description="Spending limit per member or for the whole server")
    @app_commands.describe(
        scope="member: each member's own limit; server: everyone together",
        period="daily or monthly",
        dollars="Dollars like 5 or 2.50; 0 stops spending; none uses the bot-wide default",
    )
    async def budget(
        self,
        interaction: discord.Interaction,
        scope: Literal["member", "server"],
        period: Literal["daily", "monthly"],
        dollars: app_commands.Range[str, 1, 32],
    ) -> None:
        try:
            micros = parse_dollars(dollars)
            field = budget_field(scope, period)
        except (InvalidInput, ValueError) as error:
            await self._refuse(interaction, _explain(error))
            return
        change = _setter(**{field: micros})
        saved = {
            ("member", "daily"): tr("✅ Member daily budget saved."),
            ("member", "monthly"): tr("✅ Member monthly budget saved."),
            ("server", "daily"): tr("✅ Server daily budget saved."),
            ("server", "monthly"): tr("✅ Server monthly budget saved."),
        }
        await self._apply(interaction, change, saved[(scope, period)])

    @settings.command(name="words", description="Words and patterns members can't use in prompts")
    @app_commands.describe(
        action="add or remove a rule, list them, or clear the list",
        word="A word or phrase; * matches any letters inside a word (bad*, *bad)",
    )
    async def words(
        self, interaction: discord.Interaction, action: Literal["add", "remove", "list", "clear"],
        word: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        if action == "list":
            store = await self._store_for(interaction)
            if store is not None:
                settings = await store.get_guild_settings(self._guild_id(interaction))
                await self._send(interaction, rules_listing(settings.blocked_words))
            return
        try:
            change = edit_rules(action, word)
        except InvalidInput as error:
            await self._refuse(interaction, error.user_message)
            return
        await self._apply(interaction, change, rules_headline(action, word))

    @settings.command(name="spoiler", description="Post results as spoilers (blurred until clicked)")
    @app_commands.describe(
        where="the whole server, one channel (and its threads), or every age-restricted channel",
        on="true to blur results there, false to stop", channel="The channel, for where:channel",
    )
    @app_commands.choices(where=[
        app_commands.Choice(name="the whole server", value="server"),
        app_commands.Choice(name="one channel", value="channel"),
        app_commands.Choice(name="channels marked age-restricted", value="age_restricted"),
    ])
    async def spoiler(
        self, interaction: discord.Interaction, where: str, on: bool,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        if where == "channel":
            if channel is None:
                await self._refuse(interaction, SPOILER_NEEDS_CHANNEL)
                return
            change = _edit_ids("spoiler_channel_ids", "add" if on else "remove", channel.id, channel.mention,
                               "channel")
        elif where == "age_restricted":
            change = _setter(spoiler_age_restricted=on)
        else:
            change = _setter(spoiler=on)
        await self._apply(interaction, change, SPOILER_SAVED)

    @settings.command(name="role-budget", description="A role's own daily or monthly limit for each member")
    @app_commands.describe(
        role="Members with this role get its limit (the most generous of their roles)",
        period="daily or monthly",
        dollars="Dollars like 5 or 2.50; none removes the role's limit for this period",
    )
    async def role_budget(
        self, interaction: discord.Interaction, role: discord.Role, period: Literal["daily", "monthly"],
        dollars: app_commands.Range[str, 1, 32],
    ) -> None:
        if role.is_default():
            await self._refuse(interaction, EVERYONE_BUDGET)
            return
        try:
            micros = parse_dollars(dollars)
        except InvalidInput as error:
            await self._refuse(interaction, error.user_message)
            return

        def change(s: GuildSettings) -> GuildSettings:
            return with_role_budget(s, role.id, period, micros, role.mention)

        await self._apply(interaction, change, role_budget_saved(role.mention, period))

    @settings.command(name="log", description="Post finished images, refusals and safety blocks to a channel")
    @app_commands.describe(channel="The log channel (members' mentions in it never ping)",
                           off="true to stop logging")
    async def log(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None, off: bool = False,
    ) -> None:
        if off:
            await self._apply(interaction, _setter(log_channel_id=None), LOG_OFF)
            return
        if channel is None:
            await self._refuse(interaction, LOG_NEEDS_CHANNEL)
            return
        missing = missing_log_permissions(channel)
        if missing:
            await self._refuse(interaction, log_cannot_post(channel.mention, missing))
            return
        await self._apply(interaction, _setter(log_channel_id=channel.id), log_on(channel.mention))

    @settings.command(name="key", description="This server's own OpenAI key, billed instead of the bot owner's")
    @app_commands.describe(action="set: type the key in a private form; remove: stop using it")
    async def key(self, interaction: discord.Interaction, action: Literal["set", "remove"]) -> None:
        vault = self.bot.key_vault
        if vault is None:
            await self._refuse(interaction, KEYS_OFF)
            return
        store = await self._store_for(interaction)
        if store is None:
            return
        if action == "set":
            await interaction.response.send_modal(KeyModal(self._key_entered, interaction.locale))
            return
        guild_id = self._guild_id(interaction)
        if (await store.get_server_key(guild_id))[1] is None:
            await self._refuse(interaction, NO_KEY_TO_REMOVE)
            return
        await store.set_server_key(guild_id, None, interaction.user.id)
        log.info("guild %s removed its own OpenAI key (by %s)", guild_id, interaction.user.id)
        removed = KEY_REMOVED if self.bot.settings.server_key_fallback else KEY_REMOVED_NO_FALLBACK
        await self._reply(interaction, await store.get_guild_settings(guild_id), removed)

    async def _key_entered(self, interaction: discord.Interaction, key: str) -> None:
        store, vault = await self._store_for(interaction), self.bot.key_vault
        if store is None or vault is None:
            return
        try:
            await check_key(self.bot.openai, key)  # once, now: a typo is caught before any member's job
        except InvalidInput as error:
            await self._refuse(interaction, error.user_message)
            return
        guild_id = self._guild_id(interaction)
        await store.set_server_key(guild_id, vault.seal(key), interaction.user.id)
        log.info("guild %s set its own OpenAI key (by %s)", guild_id, interaction.user.id)
        await self._reply(interaction, await store.get_guild_settings(guild_id), KEY_SAVED)

    # ------------------------------------------------------------------------------------------ plumbing

    async def _store_for(self, interaction: discord.Interaction) -> BotStore | None:
        """The store, once the caller is known to be a manager in a server; otherwise refuse and return None.

        default_permissions only hides the command in Discord's client; a member without Manage Server can still
        call it (an admin may have overridden it, or a raw API call), so the permission is checked here too.
        """
        if interaction.guild_id is None:
            await self._send(interaction, NOT_IN_A_SERVER)
            return None
        if not interaction.permissions.manage_guild:
            log.info("settings refused for %s in guild %s: no Manage Server", interaction.user.id, interaction.guild_id)
            await self._send(interaction, NOT_A_MANAGER)
            return None
        return self.bot.store

    async def _apply(self, interaction: discord.Interaction, change: Change, headline: Message) -> None:
        store = await self._store_for(interaction)
        if store is None:
            return
        guild_id = self._guild_id(interaction)
        try:
            settings = await store.update_guild_settings(guild_id, change, interaction.user.id)
        except (InvalidInput, ValueError) as error:  # the transaction rolled back: nothing was written
            await self._reply(interaction, await store.get_guild_settings(guild_id), _failed(error))
            return
        log.info("guild %s settings changed by %s: %s", guild_id, interaction.user.id, settings.to_json())
        await self._reply(interaction, settings, headline)

    async def _refuse(self, interaction: discord.Interaction, message: Message) -> None:
        """An invalid value: refused before anything is read or written, still only for managers' eyes."""
        store = await self._store_for(interaction)
        if store is not None:
            settings = await store.get_guild_settings(self._guild_id(interaction))
            await self._reply(interaction, settings, tr("❌ {message}", message=message))

    async def _reply(
        self, interaction: discord.Interaction, settings: GuildSettings, headline: Message | None
    ) -> None:
        bot_settings = self.bot.settings
        lines = summary_lines(
            settings,
            bot_partial_images=bot_settings.partial_images,
            bot_budgets={
                "user_daily_micros": bot_settings.budget_user_daily,
                "user_monthly_micros": bot_settings.budget_user_monthly,
                "guild_daily_micros": bot_settings.budget_guild_daily,
                "guild_monthly_micros": bot_settings.budget_guild_monthly,
            },
        )
        assert interaction.guild_id is not None  # _store_for has refused DMs already
        lines.append(await key_line(self.bot.store, interaction.guild_id, enabled=self.bot.key_vault is not None,
                                    fallback=bot_settings.server_key_fallback))
        await self._send(interaction, join_lines([headline, "", *lines] if headline else lines))

    @staticmethod
    async def _send(interaction: discord.Interaction, text: Message) -> None:
        # Every list at its longest could pass Discord's 2000 characters; the end is cut rather than the reply lost.
        await interaction.response.send_message(shorten(say(text, interaction.locale), MESSAGE_LIMIT), ephemeral=True,
                                                allowed_mentions=QUIET)

    @staticmethod
    def _guild_id(interaction: discord.Interaction) -> int:
        assert interaction.guild_id is not None  # _store_for has refused DMs already
        return interaction.guild_id


# ---------------------------------------------------------------------------------------------- changes


def _setter(**values: object) -> Change:
    # GuildSettings validates in __post_init__, so a value the command's choices let through is still checked.
    return lambda s: dataclasses.replace(s, **values)  # type: ignore[arg-type]


def _explain(error: InvalidInput | ValueError) -> Message:
    return error.user_message if isinstance(error, InvalidInput) else BAD_VALUE


def _failed(error: InvalidInput | ValueError) -> Message:
    return tr("❌ {message}", message=_explain(error))


def _unless(value: str, command_default: str) -> str | None:
    return None if value == command_default else value


def _edit_ids(field: str, action: Action, item_id: int | None, mention: str | None, noun: str) -> Change:
    channel = noun == "channel"
    """add/remove/clear on allowed_channel_ids or allowed_role_ids."""

    def change(s: GuildSettings) -> GuildSettings:
        current: frozenset[int] = getattr(s, field)
        if action == "clear":
            return dataclasses.replace(s, **{field: frozenset()})  # type: ignore[arg-type]
        if item_id is None:
            raise InvalidInput(_pick(channel, action))
        if action == "add":
            if item_id not in current and len(current) >= MAX_LISTED:
                raise InvalidInput(
                    tr_n("The list already holds {count} channel; remove one first.",
                         "The list already holds {count} channels; remove one first.", MAX_LISTED) if channel else
                    tr_n("The list already holds {count} role; remove one first.",
                         "The list already holds {count} roles; remove one first.", MAX_LISTED)
                )
            return dataclasses.replace(s, **{field: current | {item_id}})  # type: ignore[arg-type]
        if action != "remove":
            raise ValueError(f"unknown action {action!r}")
        if item_id not in current:
            raise InvalidInput(tr("{mention} isn't on the list.", mention=mention))
        return dataclasses.replace(s, **{field: current - {item_id}})  # type: ignore[arg-type]

    return change


def _pick(channel: bool, action: Action) -> Message:
    if channel:
        return tr("Pick the channel to add.") if action == "add" else tr("Pick the channel to remove.")
    return tr("Pick the role to add.") if action == "add" else tr("Pick the role to remove.")


def _list_headline(action: Action, mention: str | None, everyone: Message) -> Message:
    if action == "clear":
        return tr("✅ List cleared: {everyone} again.", everyone=everyone)
    if action == "add":
        return tr("✅ Added {mention}. An empty list means {everyone}.", mention=mention, everyone=everyone)
    return tr("✅ Removed {mention}. An empty list means {everyone}.", mention=mention, everyone=everyone)


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Settings(bot))
