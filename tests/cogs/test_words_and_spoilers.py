"""Blocked words and spoilers end to end: the settings commands, /draw, /edit, the Edit button's modal, restarts."""

from __future__ import annotations

from tests.cogs.test_settings import add_text_channel, channel_option, settings, stored
from tests.fakes.discord_state import FakeInteraction
from tests.fakes.images import decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness

ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def private_text(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.ephemeral, "a refusal is private"
    return harness.discord.messages[interaction.original_message_id].content


def refused(rule: str, what: str = "prompt") -> str:
    return (f"Your {what} contains a word this server has blocked (rule: **{rule}**), so I won't draw it. "
            "Nothing was charged.")


async def test_blocked_words_refuse_draw_and_edit_before_anything_is_paid(harness: Harness) -> None:
    running = await harness.start_bot()
    text = await settings(harness, running, "words", {"action": "add", "word": "  Kitten*  "})
    assert text.startswith("✅ Blocked: **kitten\\***. Prompts and instructions using it are refused")
    assert "**Blocked words:** 1 rule (`/threadpaint settings words action:list` shows them)" in text
    await settings(harness, running, "words", {"action": "add", "word": "red fox"})
    assert (await stored(running)).blocked_words == ("kitten*", "red fox")

    draw = await harness.command(running, "draw", {"prompt": "two KITTENS on a sofa"})
    assert private_text(harness, draw) == refused("kitten\\*")
    allowed = await harness.command(running, "draw", {"prompt": "a red foxglove"})  # whole words only
    assert not allowed.ephemeral and len(posts(harness)) == 1

    thread = allowed.original_message_id
    edit = await harness.command(running, "edit", {"instruction": "add a red\nfox"}, channel_id=thread)
    assert private_text(harness, edit) == refused("red fox", "instruction")
    assert len(posts(harness)) == 1  # neither refusal reached OpenAI


async def test_the_edit_buttons_modal_is_checked_too_and_rules_survive_a_restart(harness: Harness) -> None:
    first = await harness.start_bot()
    draw = await harness.command(first, "draw", {"prompt": "a kite"})
    await settings(harness, first, "words", {"action": "add", "word": "storm"})
    await harness.stop_bot(first)

    running = await harness.start_bot()  # the list is in the database
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    press = await harness.discord.invoke_component(draw.original_message_id, f"tp:edit:{turn.id}")
    await running.tracker.wait_any(press.id)
    [[field]] = [row["components"] for row in press.modal["components"]]  # type: ignore[index]
    submit = await harness.discord.submit_modal(press, {field["custom_id"]: "add a STORM"})
    await running.tracker.wait_any(submit.id)
    assert private_text(harness, submit) == refused("storm", "instruction")
    assert len(posts(harness)) == 1


async def test_words_list_remove_clear_and_mistakes(harness: Harness) -> None:
    running = await harness.start_bot()
    assert await settings(harness, running, "words", {"action": "list"}) == (
        "This server blocks no words. Add one with `/threadpaint settings words action:add word:<word>`."
    )
    for word in ("b_d", "worse*"):
        await settings(harness, running, "words", {"action": "add", "word": word})
    assert await settings(harness, running, "words", {"action": "list"}) == (
        "**Blocked words** (2; `*` matches any letters inside a word):\n- **b\\_d**\n- **worse\\***"
    )
    text = await settings(harness, running, "words", {"action": "add", "word": "B_D"})
    assert text.startswith("❌ **b\\_d** is already on the list.")
    text = await settings(harness, running, "words", {"action": "add", "word": "**"})
    assert text.startswith("❌ A rule needs at least one letter or digit besides `*`.")
    text = await settings(harness, running, "words", {"action": "remove", "word": "nope"})
    assert text.startswith("❌ **nope** isn't on the list.")
    assert (await stored(running)).blocked_words == ("b_d", "worse*")
    text = await settings(harness, running, "words", {"action": "remove", "word": "b_d"})
    assert text.startswith("✅ Removed **b\\_d** from the blocked words.")
    text = await settings(harness, running, "words", {"action": "clear"})
    assert text.startswith("✅ Blocked words cleared.") and "**Blocked words:** none" in text
    assert (await stored(running)).blocked_words == ()


async def test_server_spoiler_posts_previews_and_result_as_spoilers(harness: Harness) -> None:
    running = await harness.start_bot()
    text = await settings(harness, running, "spoiler", {"where": "server", "on": True})
    assert text.startswith("✅ Spoiler setting saved.") and "**Spoilers:** every result on this server" in text
    harness.openai.queue_script(ImageScript(event_delay=0.02))  # every preview shown, none overtaken
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    versions = [v for v in harness.discord.messages[draw.original_message_id].versions() if v.attachments]
    names = [v.attachments[0].filename for v in versions]
    assert names == ["SPOILER_preview_1.png", "SPOILER_preview_2.png", "SPOILER_threadpaint.png"]
    final = versions[-1]
    assert decode(final.attachments[0].data).format == "PNG"
    # The image is not put inside the embed, where Discord would show it unblurred.
    assert "image" not in final.embeds[0] and "a lighthouse" in final.embeds[0]["description"]


async def test_channel_spoiler_covers_its_threads_and_only_it(harness: Harness) -> None:
    fd = harness.discord
    art = add_text_channel(harness, "art")
    running = await harness.start_bot()
    await settings(harness, running, "spoiler", {"where": "channel", "on": True,
                                                 "channel": channel_option(fd.text_channel_id)})
    assert (await stored(running)).spoiler_channel_ids == {fd.text_channel_id}
    here = await harness.command(running, "draw", {"prompt": "a moth"})
    elsewhere = await harness.command(running, "draw", {"prompt": "a moth"}, channel_id=art)
    assert fd.messages[here.original_message_id].attachments[0].filename == "SPOILER_threadpaint.png"
    assert fd.messages[elsewhere.original_message_id].attachments[0].filename == "threadpaint.png"
    in_thread = await harness.command(running, "edit", {"instruction": "bigger"},
                                      channel_id=here.original_message_id)
    assert fd.messages[in_thread.original_message_id].attachments[0].filename == "SPOILER_threadpaint.png"
    text = await settings(harness, running, "spoiler", {"where": "channel", "on": False,
                                                        "channel": channel_option(fd.text_channel_id)})
    assert "**Spoilers:** off" in text


async def test_age_restricted_channels_are_spoilered_when_the_server_asks(harness: Harness) -> None:
    fd = harness.discord
    nsfw = add_text_channel(harness, "after-dark")
    fd.channels[nsfw]["nsfw"] = True  # Discord's age-restricted flag
    running = await harness.start_bot()
    before = await harness.command(running, "draw", {"prompt": "a bat"}, channel_id=nsfw)
    assert fd.messages[before.original_message_id].attachments[0].filename == "threadpaint.png"
    text = await settings(harness, running, "spoiler", {"where": "age_restricted", "on": True})
    assert "**Spoilers:** results in age-restricted channels" in text
    after = await harness.command(running, "draw", {"prompt": "a bat"}, channel_id=nsfw)
    plain = await harness.command(running, "draw", {"prompt": "a bat"})
    assert fd.messages[after.original_message_id].attachments[0].filename == "SPOILER_threadpaint.png"
    assert fd.messages[plain.original_message_id].attachments[0].filename == "threadpaint.png"


async def test_a_delivery_finished_after_a_restart_is_still_a_spoiler(harness: Harness) -> None:
    fd = harness.discord
    first = await harness.start_bot(PARTIAL_IMAGES="0")
    await settings(harness, first, "spoiler", {"where": "server", "on": True})
    draw = await fd.invoke_slash("draw", {"prompt": "a plum"})
    await fd.wait_for(lambda: bool(fd.route_calls("PATCH", ORIGINAL)), what="the status line")
    fd.fail_next("PATCH", ORIGINAL, 403, 50013, "Missing Permissions")  # the final is refused once
    await first.tracker.wait(draw.id)
    await harness.stop_bot(first)

    second = await harness.start_bot()  # recovery posts the saved image
    await second.bot.recovered.wait()
    reply = fd.messages[draw.original_message_id]
    await fd.wait_for(lambda: bool(reply.attachments), what="the recovered delivery")
    assert [a.filename for a in reply.attachments] == ["SPOILER_threadpaint.png"]


async def test_a_button_whose_thread_is_not_cached_follows_the_parent_channel(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await settings(harness, running, "spoiler", {"where": "channel", "on": True,
                                                 "channel": channel_option(fd.text_channel_id)})
    draw = await harness.command(running, "draw", {"prompt": "a moth"})
    thread_id = draw.original_message_id
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    guild = running.bot.get_guild(fd.guild_id)
    assert guild is not None
    thread = guild.get_thread(thread_id)
    assert thread is not None
    guild._remove_thread(thread)  # as an archived thread: Discord doesn't send those at start
    press = await fd.invoke_component(thread_id, f"tp:reroll:{turn.id}")  # on the opening message, in the channel
    await running.tracker.wait_any(press.id)
    [posted] = [m for m in fd.messages.values() if m.channel_id == thread_id and m.attachments]
    assert [a.filename for a in posted.attachments] == ["SPOILER_threadpaint.png"]


async def test_variations_follow_the_spoiler_and_word_rules_too(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await settings(harness, running, "spoiler", {"where": "server", "on": True})
    harness.openai.queue_script(ImageScript(final_color=(200, 30, 30)))
    harness.openai.queue_script(ImageScript(final_color=(30, 200, 30)))
    draw = await harness.command(running, "draw", {"prompt": "a harbour at dusk", "count": 2})
    grid = fd.messages[draw.original_message_id]
    assert [a.filename for a in grid.attachments] == ["SPOILER_variations.png"]
    turns = sorted(await running.store.variation_turns(draw.id), key=lambda t: t.variation_index or 0)

    use = await harness.discord.invoke_component(draw.original_message_id, f"tp:use:{turns[0].id}")
    await running.tracker.wait_any(use.id)
    [posted] = [m for m in fd.messages.values() if m.channel_id == draw.original_message_id and m.attachments]
    assert [a.filename for a in posted.attachments] == ["SPOILER_threadpaint.png"]
    assert "image" not in posted.embeds[0]  # an embedded image is never blurred

    # A word blocked after the grid was drawn stops its Reroll before anything is paid.
    await settings(harness, running, "words", {"action": "add", "word": "harbour"})
    reroll = await harness.discord.invoke_component(draw.original_message_id, f"tp:vreroll:{turns[1].id}")
    await running.tracker.wait_any(reroll.id)
    assert private_text(harness, reroll) == refused("harbour")
    assert len(posts(harness)) == 2
