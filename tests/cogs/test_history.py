"""/history end to end: the turns of a thread's chain, with who, prompts, costs and links, within embed limits."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.models import Turn
from bot.core.options import ImageOptions
from bot.storage.privacy import ChainHistory
from cogs.history import NO_CONVERSATION, history_embed
from tests.bot.storage.test_privacy import add_turn, sql
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness


async def test_history_lists_each_turn_with_who_prompts_cost_and_link(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    thread_id = draw.original_message_id
    assert thread_id is not None
    harness.openai.queue_script(ImageScript(revised_prompt="A lighthouse at night, stars above"))
    edit = await harness.command(running, "edit", {"instruction": "now at night"}, channel_id=thread_id,
                                 user_id=fd.other_user_id)
    first, second = await running.store.list_turns(thread_id)
    await sql(running.store, "UPDATE turns SET cost_micros = ? WHERE id = ?", (42_000, first.id))
    await sql(running.store, "UPDATE turns SET cost_micros = ? WHERE id = ?", (1_200_000, second.id))

    history = await harness.command(running, "history", channel_id=thread_id)

    message = fd.messages[history.original_message_id]  # type: ignore[index]
    assert history.ack_type == 4 and message.ephemeral
    [embed] = message.embeds
    one, two = embed["fields"]
    assert one["name"].startswith("1. draw") and two["name"].startswith("2. edit")
    assert f"<@{fd.user_id}> · $0.042" in one["value"] and "**Prompt:** a lighthouse" in one["value"]
    assert f"<@{fd.other_user_id}> · $1.20" in two["value"]
    assert "**Prompt:** now at night" in two["value"]
    assert "**Revised:** A lighthouse at night, stars above" in two["value"]
    # Each link opens the result message: the /draw reply the thread was opened on, then the edit in the thread.
    assert f"https://discord.com/channels/{fd.guild_id}/{fd.text_channel_id}/{thread_id})" in one["value"]
    assert f"https://discord.com/channels/{fd.guild_id}/{thread_id}/{edit.original_message_id})" in two["value"]
    assert embed["footer"]["text"] == "2 turns · total cost $1.24"


async def test_history_outside_a_conversation_is_private(harness: Harness) -> None:
    running = await harness.start_bot()
    history = await harness.command(running, "history")
    message = harness.discord.messages[history.original_message_id]  # type: ignore[index]
    assert message.ephemeral and message.content == NO_CONVERSATION


async def test_history_of_a_long_chain_fits_discords_embed_limits(harness: Harness) -> None:
    # 30 turns of 4000-character prompts in a channel chain; the fake Discord rejects any embed over the limits.
    fd = harness.discord
    running = await harness.start_bot()
    for n in range(30):
        await add_turn(running.store, user_id=fd.user_id, chain_id=fd.text_channel_id, kind="channel",
                       prompt=f"turn {n} " + "p" * 4000, revised_prompt="r" * 4000, cost_micros=1_000)

    history = await harness.command(running, "history")

    [embed] = fd.messages[history.original_message_id].embeds  # type: ignore[index]
    assert len(embed["fields"]) == 25
    assert embed["fields"][0]["name"].startswith("6. draw") and embed["fields"][-1]["name"].startswith("30. draw")
    assert "turn 29 " in embed["fields"][-1]["value"] and "…" in embed["fields"][-1]["value"]
    assert embed["footer"]["text"] == "newest 25 of 30 turns · total cost $0.030"
    assert all(f["value"].endswith(")") for f in embed["fields"])  # the link survives shortening


def make_turn(number: int, *, prompt: str, revised: str | None, guild_id: int | None) -> Turn:
    return Turn(
        id=number, chain_id=10, interaction_id=number, guild_id=guild_id, channel_id=10, user_id=123456789012345678,
        kind="edit", prompt=prompt, options=ImageOptions(), parent_turn_id=None, previous_response_id=None,
        response_id=None, image_call_id=None, revised_prompt=revised, status="done", error_code=None, error=None,
        reply_channel_id=223456789012345678, reply_message_id=323456789012345678 + number,
        cost_micros=123_456_789, created_at=datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
    )


def test_history_embed_stays_within_limits_for_any_text() -> None:
    for count in (1, 2, 7, 25):
        for prompt, revised in (("x" * 4000, "y" * 4000), ("x" * 4000, None), ("short", "z" * 4000)):
            turns = [make_turn(n, prompt=prompt, revised=revised, guild_id=None) for n in range(count)]
            embed = history_embed(ChainHistory(turns, count, 0), guild_id=None)
            assert len(embed) <= 6000 and len(embed.fields) == count
            for turn, field in zip(turns, embed.fields, strict=True):
                assert field.value is not None and len(field.value) <= 1024
                assert field.value.endswith(f"/@me/{turn.reply_channel_id}/{turn.reply_message_id})")


def test_history_embed_in_dms_links_with_at_me() -> None:
    turn = make_turn(1, prompt="a fox", revised="A red fox", guild_id=None)
    embed = history_embed(ChainHistory([turn], 1, turn.cost_micros), guild_id=None)
    value = embed.fields[0].value or ""
    assert "https://discord.com/channels/@me/223456789012345678/323456789012345679" in value
    assert "**Prompt:** a fox" in value and "**Revised:** A red fox" in value and "$123.46" in value
