"""/threadpaint settings end to end: the real bot, the fake Discord; every change lands in the database at once."""

from __future__ import annotations

from typing import Any

from bot.core.guild_settings import GuildSettings
from tests.fakes.discord_state import ALL_PERMISSIONS, FakeInteraction, channel_payload, role_payload, snowflake
from tests.harness import Harness, RunningBot

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3


async def settings(harness: Harness, running: RunningBot, sub: str, options: dict[str, Any] | None = None,
                   **kwargs: Any) -> str:
    """Run /threadpaint settings <sub> as a manager; return the private reply's text."""
    interaction = await harness.command(running, "threadpaint", options, subcommand=f"settings {sub}", **kwargs)
    return reply_text(harness, interaction)


def reply_text(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.ack_type == 4 and interaction.ephemeral, "settings replies are private"
    return harness.discord.messages[interaction.original_message_id].content


async def as_member_without_manage_server(harness: Harness, running: RunningBot, sub: str,
                                          options: dict[str, Any] | None = None) -> FakeInteraction:
    """The fake always sends members with every permission; this one has all but Manage Server (and Administrator,
    which implies it), as when a server's admin overrode the command's default permissions."""
    fd = harness.discord
    interaction = fd.interaction_routes.build_slash(
        "threadpaint", options, channel_id=None, user_id=fd.other_user_id, guild=True, attachments=None,
        subcommand=f"settings {sub}", app_permissions=None, locale="en-US", attachment_size_limit=None,
    )
    interaction.payload["member"]["permissions"] = str(ALL_PERMISSIONS & ~MANAGE_GUILD & ~ADMINISTRATOR)
    await fd.dispatch("INTERACTION_CREATE", interaction.payload)
    await running.tracker.wait(interaction.id)
    return interaction


def channel_option(channel_id: int) -> dict[str, Any]:
    return {"type": 7, "value": str(channel_id)}


def role_option(role_id: int) -> dict[str, Any]:
    return {"type": 8, "value": str(role_id)}


def add_text_channel(harness: Harness, name: str) -> int:
    """A second text channel; call before start_bot so it is in the guild the bot receives."""
    fd = harness.discord
    cid = snowflake()
    fd.channels[cid] = channel_payload(cid, 0, name, guild_id=fd.guild_id, position=3)
    return cid


def add_role(harness: Harness, name: str) -> int:
    fd = harness.discord
    rid = snowflake()
    fd.roles.append(role_payload(rid, name, 2, 0))
    return rid


def harness_guild(running: RunningBot) -> int:
    [guild] = running.bot.guilds
    return guild.id


async def stored(running: RunningBot) -> GuildSettings:
    """What the database holds for the fake's one server, read straight from the store."""
    return await running.store.get_guild_settings(harness_guild(running))


# ---------------------------------------------------------------------------------------------- tests


async def test_show_lists_the_defaults_and_writes_nothing(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="2")
    text = await settings(harness, running, "show")
    assert "**Channels:** every channel" in text and "**Roles:** everyone" in text
    assert "**Previews:** 2 (bot default)" in text
    assert "**Member budget:** $2.00 (bot default) a day" in text
    assert await stored(running) == GuildSettings()


async def test_channels_add_remove_clear(harness: Harness) -> None:
    fd = harness.discord
    art = add_text_channel(harness, "art")
    running = await harness.start_bot()

    text = await settings(harness, running, "channels", {"action": "add", "channel": channel_option(art)})
    assert text.startswith(f"✅ Added <#{art}>") and f"**Channels:** <#{art}>" in text
    await settings(harness, running, "channels", {"action": "add", "channel": channel_option(fd.text_channel_id)})
    # Forum channels can be listed too: their posts are threads whose parent is the forum.
    await settings(harness, running, "channels", {"action": "add", "channel": channel_option(fd.forum_channel_id)})
    assert (await stored(running)).allowed_channel_ids == {art, fd.text_channel_id, fd.forum_channel_id}

    await settings(harness, running, "channels", {"action": "remove", "channel": channel_option(art)})
    assert (await stored(running)).allowed_channel_ids == {fd.text_channel_id, fd.forum_channel_id}

    text = await settings(harness, running, "channels", {"action": "clear"})
    assert "**Channels:** every channel" in text
    assert (await stored(running)).allowed_channel_ids == frozenset()


async def test_channels_mistakes_are_explained_and_change_nothing(harness: Harness) -> None:
    art = add_text_channel(harness, "art")
    running = await harness.start_bot()
    text = await settings(harness, running, "channels", {"action": "add"})
    assert text.startswith("❌ Pick the channel to add.") and "**Channels:** every channel" in text
    text = await settings(harness, running, "channels", {"action": "remove", "channel": channel_option(art)})
    assert text.startswith(f"❌ <#{art}> isn't on the list.")
    assert await stored(running) == GuildSettings()


async def test_roles_add_remove_clear(harness: Harness) -> None:
    artists, mods = add_role(harness, "artists"), add_role(harness, "mods")
    running = await harness.start_bot()
    text = await settings(harness, running, "roles", {"action": "add", "role": role_option(artists)})
    assert f"**Roles:** <@&{artists}>" in text
    await settings(harness, running, "roles", {"action": "add", "role": role_option(mods)})
    assert (await stored(running)).allowed_role_ids == {artists, mods}
    await settings(harness, running, "roles", {"action": "remove", "role": role_option(artists)})
    assert (await stored(running)).allowed_role_ids == {mods}
    await settings(harness, running, "roles", {"action": "clear"})
    assert (await stored(running)).allowed_role_ids == frozenset()


async def test_everyone_role_is_refused(harness: Harness) -> None:
    running = await harness.start_bot()
    text = await settings(harness, running, "roles", {"action": "add", "role": role_option(harness.discord.guild_id)})
    assert text.startswith("❌ Every member has @everyone")
    assert await stored(running) == GuildSettings()


async def test_defaults_keep_what_is_left_out_and_reset_clears(harness: Harness) -> None:
    running = await harness.start_bot()
    await settings(harness, running, "defaults", {"size": "1536x1024", "quality": "low"})
    assert await stored(running) == GuildSettings(default_size="1536x1024", default_quality="low")

    text = await settings(harness, running, "defaults", {"format": "webp"})
    assert "**Defaults:** size 1536x1024, quality low, format webp" in text
    assert await stored(running) == GuildSettings(default_size="1536x1024", default_quality="low",
                                                  default_format="webp")

    # Choosing the commands' own default ("auto") stores "no default".
    await settings(harness, running, "defaults", {"quality": "auto"})
    assert (await stored(running)).default_quality is None

    await settings(harness, running, "defaults", {"reset": True})
    assert await stored(running) == GuildSettings()


async def test_moderation_previews_and_editing(harness: Harness) -> None:
    running = await harness.start_bot(ALLOW_LOW_MODERATION="true")
    await settings(harness, running, "moderation", {"level": "low"})
    await settings(harness, running, "previews", {"count": 0})
    text = await settings(harness, running, "editing", {"who": "starter"})
    assert "**Moderation:** low" in text and "**Previews:** 0" in text
    assert "**Editing:** the starter and moderators" in text
    assert await stored(running) == GuildSettings(moderation="low", partial_images=0, edit_policy="starter")


async def test_previews_out_of_range_is_refused(harness: Harness) -> None:
    running = await harness.start_bot()
    interaction = await harness.discord.invoke_slash("threadpaint", {"count": 4}, subcommand="settings previews")
    await harness.discord.wait_for(lambda: interaction.ack_type is not None, what="the error reply")
    assert "from 0 to 3" in harness.discord.messages[interaction.original_message_id].content
    assert await stored(running) == GuildSettings()


async def test_budgets_are_exact_micro_dollars_and_none_clears(harness: Harness) -> None:
    running = await harness.start_bot()
    await settings(harness, running, "budget", {"scope": "member", "period": "daily", "dollars": "0.10"})
    await settings(harness, running, "budget", {"scope": "member", "period": "monthly", "dollars": "$2.5"})
    text = await settings(harness, running, "budget", {"scope": "server", "period": "monthly", "dollars": "100"})
    assert "**Member budget:** $0.100 a day, $2.50 a month" in text
    assert "**Server budget:** unlimited (bot default) a day, $100.00 a month" in text
    assert await stored(running) == GuildSettings(user_daily_micros=100_000, user_monthly_micros=2_500_000,
                                                  guild_monthly_micros=100_000_000)

    await settings(harness, running, "budget", {"scope": "member", "period": "daily", "dollars": "none"})
    assert (await stored(running)).user_daily_micros is None


async def test_invalid_budget_text_is_refused(harness: Harness) -> None:
    running = await harness.start_bot()
    await settings(harness, running, "budget", {"scope": "server", "period": "daily", "dollars": "5"})
    for garbage, reason in (("five dollars", "not an amount"), ("-3", "zero or more"), ("0.0000001", "millionth")):
        text = await settings(harness, running, "budget", {"scope": "server", "period": "daily", "dollars": garbage})
        assert text.startswith("❌") and reason in text, text
    assert await stored(running) == GuildSettings(guild_daily_micros=5_000_000)


async def test_member_without_manage_server_is_refused(harness: Harness) -> None:
    running = await harness.start_bot()
    for sub, options in (("show", None), ("moderation", {"level": "low"}),
                         ("budget", {"scope": "member", "period": "daily", "dollars": "nonsense"})):
        interaction = await as_member_without_manage_server(harness, running, sub, options)
        text = reply_text(harness, interaction)
        assert text == "Only members with the **Manage Server** permission can change threadpaint's settings."
    assert await stored(running) == GuildSettings()
    # The command is also hidden from non-managers in Discord's client (a hint only, hence the check above).
    [command] = [c for c in running.bot.tree.get_commands() if c.name == "threadpaint"]
    assert command.default_permissions is not None and command.default_permissions.value == MANAGE_GUILD
    assert command.guild_only


async def test_settings_survive_a_restart_and_are_per_server(harness: Harness) -> None:
    running = await harness.start_bot(ALLOW_LOW_MODERATION="true")
    await settings(harness, running, "moderation", {"level": "low"})
    await settings(harness, running, "channels", {"action": "add", "channel": channel_option(
        harness.discord.text_channel_id)})
    guild_id = harness_guild(running)
    await harness.stop_bot(running)

    again = await harness.start_bot(ALLOW_LOW_MODERATION="true")
    expected = GuildSettings(moderation="low", allowed_channel_ids=frozenset({harness.discord.text_channel_id}))
    assert await again.store.get_guild_settings(guild_id) == expected
    assert await again.store.get_guild_settings(guild_id + 1) == GuildSettings()
    text = await settings(harness, again, "show")
    assert "**Moderation:** low" in text


async def test_values_discord_would_never_send_are_refused_politely(harness: Harness) -> None:
    """discord.py doesn't recheck choices and ranges; a raw API call gets an explanation, not a crash."""
    running = await harness.start_bot()
    for sub, options in (
        ("defaults", {"size": "999x999"}),
        ("channels", {"action": "explode", "channel": channel_option(harness.discord.text_channel_id)}),
        ("budget", {"scope": "galaxy", "period": "daily", "dollars": "5"}),
        ("editing", {"who": "nobody"}),
    ):
        text = await settings(harness, running, sub, options)
        assert text.startswith("❌ One of the options has a value I can't use."), (sub, text)
    text = await settings(harness, running, "budget", {"scope": "member", "period": "daily", "dollars": "x" * 5000})
    assert text.startswith("❌ That is not an amount")
    assert await stored(running) == GuildSettings()


async def test_channel_list_is_capped(harness: Harness) -> None:
    channels = [add_text_channel(harness, f"room-{i}") for i in range(26)]
    running = await harness.start_bot()
    for cid in channels[:25]:
        await settings(harness, running, "channels", {"action": "add", "channel": channel_option(cid)})
    text = await settings(harness, running, "channels", {"action": "add", "channel": channel_option(channels[25])})
    assert text.startswith("❌ The list already holds 25 channels; remove one first.")
    assert (await stored(running)).allowed_channel_ids == frozenset(channels[:25])


async def test_an_unreadable_stored_row_falls_back_to_defaults_and_can_be_saved_over(harness: Harness) -> None:
    running = await harness.start_bot(ALLOW_LOW_MODERATION="true")
    guild_id = harness_guild(running)
    async with running.store._transaction() as conn:  # only a hand edit of the database can do this
        await conn.execute("INSERT INTO guild_settings VALUES (?, 'not json', NULL, '2026-01-01')", (guild_id,))
    assert await stored(running) == GuildSettings()
    await settings(harness, running, "moderation", {"level": "low"})
    assert await stored(running) == GuildSettings(moderation="low")
