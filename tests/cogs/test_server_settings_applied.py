"""Per-server settings take effect at once on /draw and /edit."""

from __future__ import annotations

from dataclasses import replace

from bot.core.guild_settings import GuildSettings
from tests.fakes.discord_state import MEMBER_PERMISSIONS
from tests.harness import Harness, RunningBot


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def configure(harness: Harness, running: RunningBot, **changes: object) -> None:
    current = await running.store.get_guild_settings(harness.discord.guild_id)
    updated = replace(current, **changes)  # type: ignore[arg-type]
    await running.store.set_guild_settings(harness.discord.guild_id, updated, harness.discord.user_id)


async def test_defaults_moderation_and_previews_reach_the_request(harness: Harness) -> None:
    running = await harness.start_bot(ALLOW_LOW_MODERATION="true")  # the owner allows servers to lower it
    await configure(harness, running, default_size="1536x1024", default_quality="low", default_format="webp",
                    moderation="low", partial_images=1)
    draw = await harness.command(running, "draw", {"prompt": "a harbour", "quality": "high"})
    [tool] = posts(harness)[-1]["tools"]
    assert tool["size"] == "1536x1024" and tool["output_format"] == "webp"
    assert tool["quality"] == "high"  # what the member chose wins over the server default
    assert tool["moderation"] == "low" and tool["partial_images"] == 1
    assert harness.discord.messages[draw.original_message_id].attachments[0].filename.endswith(".webp")


async def test_channel_allow_list(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    other = await fd.create_forum_post("elsewhere", fd.user_id)
    await configure(harness, running, allowed_channel_ids=frozenset({fd.forum_channel_id}))
    refused = await harness.command(running, "draw", {"prompt": "x"})
    assert refused.ephemeral and f"<#{fd.forum_channel_id}>" in fd.messages[refused.original_message_id].content
    allowed = await harness.command(running, "draw", {"prompt": "y"}, channel_id=other)  # a post in that forum
    assert not allowed.ephemeral
    assert len(posts(harness)) == 1


async def test_role_allow_list_lets_managers_through(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await configure(harness, running, allowed_role_ids=frozenset({12345}))
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS
    refused = await harness.command(running, "draw", {"prompt": "x"}, user_id=fd.other_user_id)
    assert refused.ephemeral and "<@&12345>" in fd.messages[refused.original_message_id].content
    manager = await harness.command(running, "draw", {"prompt": "y"})  # all permissions, Manage Server included
    assert not manager.ephemeral


async def test_starter_only_threads_refuse_other_members(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await configure(harness, running, edit_policy="starter")
    draw = await harness.command(running, "draw", {"prompt": "a boat"})
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS  # no Manage Threads or Messages
    refused = await harness.command(running, "edit", {"instruction": "sink it"}, channel_id=draw.original_message_id,
                                    user_id=fd.other_user_id)
    assert refused.ephemeral and "only the person who started this thread" in (
        fd.messages[refused.original_message_id].content
    )
    assert len(posts(harness)) == 1


async def test_server_budget_overrides_the_bot_wide_one(harness: Harness) -> None:
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="100")
    await configure(harness, running, user_daily_micros=10_000)  # one cent a day on this server
    refused = await harness.command(running, "draw", {"prompt": "x"})
    assert refused.ephemeral and "daily image budget of $0.010" in harness.discord.messages[
        refused.original_message_id].content
    assert posts(harness) == []


def test_settings_default_is_permissive() -> None:
    assert GuildSettings().allowed_channel_ids == frozenset() and GuildSettings().edit_policy == "anyone"
