"""/history end to end: the turns of a thread's chain, with who, prompts, costs and links, within embed limits."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from bot.core.contact_sheet import BRANCH, COLUMNS, GAP, LABEL, MISSING, TILE
from bot.core.models import Turn
from bot.core.options import ImageOptions
from bot.storage.privacy import ChainHistory
from cogs.history import NO_CONVERSATION, history_embed
from tests.bot.storage.test_privacy import add_turn, sql
from tests.cogs.test_buttons import click
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
    assert history.ack_type == 5 and message.ephemeral  # deferred: the contact sheet takes a moment
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
    assert message.ephemeral and message.content == str(NO_CONVERSATION)


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


def tile_pixel(sheet: Image.Image, index: int, columns: int) -> tuple[int, ...]:
    left, top = GAP + (index % columns) * (TILE + GAP), GAP + (index // columns) * (TILE + LABEL + GAP)
    return sheet.getpixel((left + TILE // 2, top + TILE // 2))  # type: ignore[return-value]


def has_branch_frame(sheet: Image.Image, index: int, columns: int) -> bool:
    left, top = GAP + (index % columns) * (TILE + GAP), GAP + (index // columns) * (TILE + LABEL + GAP)
    return sheet.getpixel((left - 1, top + TILE // 2)) == BRANCH


async def test_history_attaches_a_contact_sheet_of_the_results_in_order(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    colours = [(200, 40, 40), (40, 180, 60), (40, 70, 210)]
    harness.openai.queue_script(ImageScript(final_color=colours[0]))
    draw = await harness.command(running, "draw", {"prompt": "a kite"})
    thread_id = draw.original_message_id
    harness.openai.queue_script(ImageScript(final_color=colours[1]))
    await harness.command(running, "edit", {"instruction": "make it green"}, channel_id=thread_id)
    # Turn 3 branches from turn 1: Edit pressed on the opening result.
    first = await running.store.turn_for_interaction(draw.id)
    assert first is not None
    press = await click(harness, running, draw.original_message_id, f"tp:edit:{first.id}")
    [[field]] = [row["components"] for row in press.modal["components"]]  # type: ignore[index]
    harness.openai.queue_script(ImageScript(final_color=colours[2]))
    submit = await fd.submit_modal(press, {field["custom_id"]: "make it blue instead"})
    await running.tracker.wait_any(submit.id)
    # Turn 4's message was deleted since: its tile is a placeholder, the list still shows it.
    harness.openai.queue_script(ImageScript(final_color=(250, 250, 0)))
    gone = await harness.command(running, "edit", {"instruction": "yellow"}, channel_id=thread_id)
    del fd.messages[gone.original_message_id]  # type: ignore[arg-type]

    history = await harness.command(running, "history", channel_id=thread_id)

    message = fd.messages[history.original_message_id]  # type: ignore[index]
    [attachment] = message.attachments
    [embed] = message.embeds
    assert attachment.filename == "history.png" and embed["image"]["url"] == "attachment://history.png"
    sheet = Image.open(io.BytesIO(attachment.data)).convert("RGB")
    columns = min(COLUMNS, 4)
    assert [tile_pixel(sheet, i, columns) for i in range(3)] == colours  # each result, in the list's order
    assert sheet.getpixel((GAP + 3 * (TILE + GAP) + 10, GAP + TILE - 40)) == MISSING
    assert [has_branch_frame(sheet, i, columns) for i in range(4)] == [False, False, True, False]
    names = [f["name"] for f in embed["fields"]]
    assert [n.split(".")[0] for n in names] == ["1", "2", "3", "4"]  # the numbers the sheet shows
