"""A server's log channel end to end: what is posted there, paced, bounded, inert, and never in a member's way."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.core.costs import format_usd
from tests.cogs.test_settings import add_text_channel, channel_option, settings, stored
from tests.fakes.discord_state import ALL_PERMISSIONS, MEMBER_PERMISSIONS, PERMISSIONS, FakeMessage
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness, RunningBot

ADMINISTRATOR = 1 << 3


class Pace:
    """Stands in for the log channel's sleep: records each pause, and can hold the queue until released."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        await self.gate.wait()


async def with_log_channel(harness: Harness, **env: str) -> tuple[RunningBot, int, Pace]:
    logs = add_text_channel(harness, "bot-log")
    running = await harness.start_bot(**env)
    pace = Pace()
    running.bot.log_channel.sleep = pace
    text = await settings(harness, running, "log", {"channel": channel_option(logs)})
    assert text.startswith(f"✅ Finished images, refusals and safety blocks will be posted in <#{logs}>.")
    assert f"**Log channel:** <#{logs}>" in text
    return running, logs, pace


async def log_posts(harness: Harness, running: RunningBot, channel_id: int) -> list[FakeMessage]:
    await asyncio.wait_for(running.bot.log_channel.wait_idle(), 10)
    return [m for m in harness.discord.messages.values() if m.channel_id == channel_id]


async def test_finished_images_refusals_and_blocks_are_posted(harness: Harness) -> None:
    fd = harness.discord
    running, logs, pace = await with_log_channel(harness)
    harness.openai.queue_script(ImageScript(revised_prompt="A <@1> *bold* lantern"))
    draw = await harness.command(running, "draw", {"prompt": "a lantern @everyone <@&5>"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.cost_micros > 0
    await settings(harness, running, "words", {"action": "add", "word": "storm"})
    await harness.command(running, "draw", {"prompt": "a storm"})
    harness.openai.add_fault(Fault.moderation_400(categories=("violence",), stage="input"))
    blocked = await harness.command(running, "draw", {"prompt": "a duel"})
    assert "blocked by OpenAI's safety system" in fd.messages[blocked.original_message_id].content

    posts = await log_posts(harness, running, logs)
    assert [p.content for p in posts] == [
        f"🖼️ <@{fd.user_id}> made an image in <#{fd.text_channel_id}> for {format_usd(turn.cost_micros)}: "
        f"https://discord.com/channels/{fd.guild_id}/{fd.text_channel_id}/{draw.original_message_id}\n"
        "**Prompt:** a lantern @\u200beveryone \\<@&5\\>\n"
        "**Revised prompt:** A \\<@1\\> \\*bold\\* lantern",
        f"✋ <@{fd.user_id}> was refused in <#{fd.text_channel_id}>: Your prompt contains a word this server has "
        "blocked (rule: **storm**), so I won't draw it. Nothing was charged.\n**Prompt:** a storm",
        f"🚫 OpenAI's safety system blocked an image for <@{fd.user_id}> in <#{fd.text_channel_id}>.\n"
        "**Prompt:** a duel",
    ]
    assert all(p.pinged == set() for p in posts)  # nobody is notified by a log post
    assert pace.pauses == [1.0, 1.0, 1.0]  # one post a second, however fast they come


async def test_the_queue_is_bounded_and_drops_the_oldest(harness: Harness, caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    fd = harness.discord
    running, logs, pace = await with_log_channel(harness)
    log_channel = running.bot.log_channel
    log_channel.max_queued = 2  # small enough to overflow in a test
    pace.gate.clear()  # the drain sends one post, then waits
    for word in ("one", "two", "three", "four"):
        await harness.command(running, "draw", {"prompt": f"{word} " + "x" * 5000})  # refused: too long
    await fd.wait_for(lambda: len(pace.pauses) == 1, what="the first post")
    with caplog.at_level(logging.WARNING):
        for word in ("five", "six"):
            await harness.command(running, "draw", {"prompt": f"{word} " + "x" * 5000})
    pace.gate.set()
    texts = [p.content for p in await log_posts(harness, running, logs)]
    # "one" went out at once; "two" .. "four" queued (two, then three and four after dropping); five and six
    # pushed out the oldest again.
    assert [t.split("**Prompt:** ")[1][:4] for t in texts] == ["one ", "five", "six "]
    assert "log channel queue full (2): dropped the oldest post" in caplog.text


async def test_a_vanished_log_channel_never_stops_a_job(harness: Harness, caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    fd = harness.discord
    running, logs, _ = await with_log_channel(harness)
    del fd.channels[logs]  # deleted behind the bot's back
    with caplog.at_level(logging.WARNING):
        draw = await harness.command(running, "draw", {"prompt": "a kite"})
        await asyncio.wait_for(running.bot.log_channel.wait_idle(), 10)
    assert fd.messages[draw.original_message_id].attachments  # the member still got the image
    assert f"could not post to log channel {logs}: 404 Not Found (error code: 10003)" in caplog.text
    again = await harness.command(running, "draw", {"prompt": "a kite"})
    assert fd.messages[again.original_message_id].attachments


async def test_a_channel_the_bot_cant_post_in_is_refused_and_off_turns_it_off(harness: Harness) -> None:
    fd = harness.discord
    quiet = add_text_channel(harness, "quiet")
    fd.roles[1]["permissions"] = str(ALL_PERMISSIONS & ~ADMINISTRATOR)
    fd.channels[quiet]["permission_overwrites"] = [
        {"id": str(fd.bot_role_id), "type": 0, "allow": "0", "deny": str(PERMISSIONS["send_messages"])},
    ]
    running, logs, _ = await with_log_channel(harness)
    text = await settings(harness, running, "log", {"channel": channel_option(quiet)})
    assert text.startswith(f"❌ I can't post in <#{quiet}>: I need Send Messages there.")
    assert (await stored(running)).log_channel_id == logs
    text = await settings(harness, running, "log", {"off": True})
    assert text.startswith("✅ Log channel turned off.") and "**Log channel:** off" in text
    assert (await stored(running)).log_channel_id is None
    await harness.command(running, "draw", {"prompt": "a kite"})
    assert await log_posts(harness, running, logs) == []


async def test_a_refused_button_press_is_logged_without_a_prompt(harness: Harness) -> None:
    fd = harness.discord
    running, logs, _ = await with_log_channel(harness)
    await settings(harness, running, "editing", {"who": "starter"})
    draw = await harness.command(running, "draw", {"prompt": "a boat"})
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS  # no Manage Threads or Messages
    press = await fd.invoke_component(draw.original_message_id, f"tp:reroll:{turn.id}", user_id=fd.other_user_id)
    await running.tracker.wait_any(press.id)
    assert press.ephemeral
    [finished, refused] = [p.content for p in await log_posts(harness, running, logs)]
    assert finished.startswith(f"🖼️ <@{fd.user_id}> made an image")
    assert refused == (
        f"✋ <@{fd.other_user_id}> was refused in <#{fd.text_channel_id}>: On this server only the person who "
        "started this thread (and moderators) can change its image. Use /draw to start your own."
    )
