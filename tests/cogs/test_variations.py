"""/draw count: variations drawn at once into one grid, then Use, Reroll and Cancel (issue 14, item 6)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import replace

from PIL import Image

from bot.core.costs import format_usd
from bot.core.grid import EMPTY, FAILED, cell_box, cell_size
from bot.core.models import Job, Turn
from bot.core.options import ImageOptions
from bot.storage import SqliteStore
from tests.bot.storage.test_privacy import sql
from tests.fakes.discord_state import MEMBER_PERMISSIONS, FakeInteraction, FakeMessage
from tests.fakes.images import decode, make_image
from tests.fakes.openai_server import Fault, Generation, ImageScript
from tests.harness import Harness, RunningBot

PROMPT = "a lighthouse in a storm"
COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (240, 200, 20)]


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def buttons(harness: Harness, message_id: int) -> list[tuple[str, str]]:
    message = harness.discord.messages[message_id]
    return [(c["custom_id"], c.get("label", "")) for row in message.components for c in row.get("components", [])]


def cells(png: bytes, count: int, size: str = "auto") -> list[tuple[int, int, int]]:
    """The colour at the middle of each cell of a grid picture."""
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        centres = [cell_box(i, count, cell_size(size)) for i in range(count)]
        return [rgb.getpixel(((left + right) // 2, (top + bottom) // 2))  # type: ignore[misc]
                for left, top, right, bottom in centres]


def grid_png(harness: Harness, message_id: int) -> bytes:
    [attachment] = harness.discord.messages[message_id].attachments
    assert attachment.filename == "variations.png"
    return attachment.data


async def group_turns(running: RunningBot, draw: FakeInteraction) -> list[Turn]:
    turns = await running.store.variation_turns(draw.id)
    return sorted(turns, key=lambda t: (t.variation_index or 0, t.id))


def generation_of(harness: Harness, turn: Turn) -> Generation:
    [generation] = [g for g in harness.openai.generations if g.response_id == turn.response_id]
    return generation


async def click(harness: Harness, running: RunningBot, message_id: int, custom_id: str,
                **kw: object) -> FakeInteraction:
    interaction = await harness.discord.invoke_component(message_id, custom_id, **kw)  # type: ignore[arg-type]
    await running.tracker.wait_any(interaction.id)
    return interaction


def body(harness: Harness) -> dict:
    return {
        "model": "gpt-5.4-mini",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}],
        "tools": [{"type": "image_generation", "size": "auto", "quality": "low", "background": "auto",
                   "output_format": "png", "action": "generate", "partial_images": 2}],
        "tool_choice": {"type": "image_generation"},
        "store": True,
        "stream": True,
        "safety_identifier": hashlib.sha256(f"threadpaint:{harness.discord.user_id}".encode()).hexdigest()[:32],
    }


async def test_count_draws_each_variation_into_a_numbered_grid_with_use_and_reroll(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    for colour in COLOURS:
        harness.openai.queue_script(ImageScript(final_color=colour, event_delay=0.01))
    draw = await harness.command(running, "draw", {"prompt": PROMPT, "quality": "low", "count": 4})

    assert posts(harness) == [body(harness)] * 4  # four ordinary generations, each sent as its own request
    turns = await group_turns(running, draw)
    assert [(t.variation_index, t.status, t.kind) for t in turns] == [(i, "done", "draw") for i in (1, 2, 3, 4)]
    assert turns[0].interaction_id == draw.id and all(t.interaction_id is None for t in turns[1:])

    # The final grid: each cell shows the image its own turn got from OpenAI.
    grid = fd.messages[draw.original_message_id]
    expected = [generation_of(harness, t).final_color[:3] for t in turns]
    assert sorted(expected) == sorted(COLOURS)
    assert cells(grid_png(harness, grid.id), 4) == expected
    assert decode(grid_png(harness, grid.id)).size == (1048, 1048)  # 2×2 cells of 512 with gaps
    assert buttons(harness, grid.id) == [
        *[(f"tp:use:{t.id}", f"Use {i}") for i, t in enumerate(turns, start=1)],
        *[(f"tp:vreroll:{t.id}", f"Reroll {i}") for i, t in enumerate(turns, start=1)],
    ]
    assert grid.content.startswith(f"**4 variations of:** {PROMPT}")
    for i, t in enumerate(turns, start=1):
        assert f"**{i}:** Cost {format_usd(t.cost_micros)}." in grid.content

    # It filled in as previews streamed: an empty grid with Cancel first, then cells with previews.
    versions = [v for v in grid.versions() if v.attachments]
    first = versions[0]
    assert cells(first.attachments[0].data, 4) == [EMPTY] * 4
    assert [c["custom_id"] for row in first.components for c in row["components"]] == [f"tp:cancelall:{turns[0].id}"]
    one = running.bot.service.estimate(_job(running, draw), 0)
    assert f"Estimated cost: at most {format_usd(4 * one)} for all of them." in first.content  # the total
    partial_colours = {decode(p).center[:3] for t in turns for p in generation_of(harness, t).partial_images}
    seen = {c for v in versions[1:-1] for c in cells(v.attachments[0].data, 4)}
    assert seen & partial_colours, "no preview reached the grid"

    # A thread opened on the grid, and no variation became its head before one is chosen.
    thread_id = grid.id
    assert fd.channels[thread_id]["parent_id"] == str(grid.channel_id)
    chain = await running.store.get_chain(thread_id)
    assert chain is not None and chain.head_turn_id is None
    assert all(t.chain_id == thread_id for t in turns)


async def test_use_posts_that_image_full_size_and_edit_continues_from_it(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    for colour in COLOURS[:2]:
        harness.openai.queue_script(ImageScript(final_color=colour))
    draw = await harness.command(running, "draw", {"prompt": PROMPT, "quality": "low", "count": 2})
    turns = await group_turns(running, draw)
    assert cells(grid_png(harness, draw.original_message_id), 2) == [
        generation_of(harness, t).final_color[:3] for t in turns
    ]
    assert decode(grid_png(harness, draw.original_message_id)).size == (1048, 528)  # 1×2
    chosen = turns[1]

    use = await click(harness, running, draw.original_message_id, f"tp:use:{chosen.id}")

    assert use.ephemeral
    thread_id = draw.original_message_id
    [posted] = [m for m in fd.messages.values() if m.channel_id == thread_id and m.attachments]
    image = decode(posted.attachments[0].data)
    full = generation_of(harness, chosen)
    assert posted.attachments[0].data == full.final_image  # the image itself, not its cell of the grid
    assert image.center[:3] == full.final_color[:3]
    assert buttons(harness, posted.id) == [(f"tp:edit:{chosen.id}", "Edit"), (f"tp:reroll:{chosen.id}", "Reroll")]
    head = await running.store.get_head(thread_id)
    assert head is not None and head.id == chosen.id and head.reply_message_id == posted.id

    await harness.command(running, "edit", {"instruction": "add a rainbow"}, channel_id=thread_id)
    assert posts(harness)[-1]["previous_response_id"] == chosen.response_id

    # Each variation is a turn of the conversation: /history lists both and the edit, with what they cost.
    history = await harness.command(running, "history", channel_id=thread_id)
    embed = fd.messages[history.original_message_id].embeds[0]
    every = [*turns, await running.store.get_head(thread_id)]
    total = sum(t.cost_micros for t in every if t is not None)
    assert embed["footer"]["text"] == f"3 turns · total cost {format_usd(total)}"


async def test_reroll_after_a_restart_redraws_only_that_cell(harness: Harness) -> None:
    first = await harness.start_bot()
    for colour in COLOURS[:2]:
        harness.openai.queue_script(ImageScript(final_color=colour))
    draw = await harness.command(first, "draw", {"prompt": PROMPT, "quality": "low", "count": 2})
    before = await group_turns(first, draw)
    kept = generation_of(harness, before[1]).final_color[:3]
    await harness.stop_bot(first)

    second = await harness.start_bot()  # the grid's buttons carry their state in their custom ids
    harness.openai.queue_script(ImageScript(final_color=(250, 250, 250)))
    reroll = await click(harness, second, draw.original_message_id, f"tp:vreroll:{before[0].id}")

    assert reroll.ephemeral
    assert posts(harness)[-1] == body(harness)  # the same prompt and options, fresh
    after = await group_turns(second, draw)
    new = [t for t in after if t.id not in {b.id for b in before}]
    assert len(new) == 1 and new[0].variation_index == 1 and new[0].status == "done"
    assert cells(grid_png(harness, draw.original_message_id), 2) == [(250, 250, 250), kept]
    assert buttons(harness, draw.original_message_id) == [
        (f"tp:use:{new[0].id}", "Use 1"), (f"tp:use:{before[1].id}", "Use 2"),
        (f"tp:vreroll:{new[0].id}", "Reroll 1"), (f"tp:vreroll:{before[1].id}", "Reroll 2"),
    ]
    chain = await second.store.get_chain(draw.original_message_id)
    assert chain is not None and chain.head_turn_id is None  # a reroll is a variation too


async def test_cancel_stops_every_variation_still_running(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    hold = asyncio.Event()
    for colour in COLOURS[:3]:
        harness.openai.queue_script(ImageScript(final_color=colour, hold_final=hold))
    draw = await fd.invoke_slash("draw", {"prompt": PROMPT, "quality": "low", "count": 3})
    await fd.wait_for(lambda: len(posts(harness)) == 3, what="three generations running")
    turns = await group_turns(running, draw)
    await fd.wait_for(lambda: bool(draw.original_message_id and buttons(harness, draw.original_message_id)))

    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS  # no Manage Threads or Messages
    stranger = await fd.invoke_component(draw.original_message_id, f"tp:cancelall:{turns[0].id}",
                                         user_id=fd.other_user_id)
    await fd.wait_for(lambda: stranger.original_message_id is not None, what="the refusal")
    assert stranger.ephemeral  # only the member who asked (or a moderator) may cancel
    assert all(t.status == "running" for t in await group_turns(running, draw))

    cancel = await fd.invoke_component(draw.original_message_id, f"tp:cancelall:{turns[0].id}")
    await running.tracker.wait(draw.id)
    hold.set()
    assert not cancel.ephemeral
    turns = await group_turns(running, draw)
    assert [(t.status, t.error_code) for t in turns] == [("failed", "cancelled")] * 3
    grid = fd.messages[draw.original_message_id]
    assert cells(grid_png(harness, grid.id), 3) == [FAILED] * 3
    assert buttons(harness, grid.id) == [(f"tp:vreroll:{t.id}", f"Reroll {i}") for i, t in enumerate(turns, 1)]
    assert grid.content.count(f"Cancelled by <@{fd.user_id}>") == 3


async def test_one_variation_failing_leaves_the_others_delivered(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.add_fault(Fault.image_failed())
    for colour in COLOURS[:3]:
        harness.openai.queue_script(ImageScript(final_color=colour))
    draw = await harness.command(running, "draw", {"prompt": PROMPT, "quality": "low", "count": 3})

    turns = await group_turns(running, draw)
    failed = [t for t in turns if t.status == "failed"]
    done = [t for t in turns if t.status == "done"]
    assert len(failed) == 1 and len(done) == 2
    grid = fd.messages[draw.original_message_id]
    expected = [FAILED if t.status == "failed" else generation_of(harness, t).final_color[:3] for t in turns]
    assert cells(grid_png(harness, grid.id), 3) == expected
    assert f"**{failed[0].variation_index}:** ❌" in grid.content
    assert [c for c, _ in buttons(harness, grid.id)] == [
        *[f"tp:use:{t.id}" for t in done], *[f"tp:vreroll:{t.id}" for t in turns],
    ]
    for t in done:  # every paid-for image is kept until one is chosen
        assert await running.store.kept_image(t.id) is not None


async def test_a_count_over_budget_is_refused_whole_naming_the_total(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.10")
    draw = await fd.invoke_slash("draw", {"prompt": PROMPT, "quality": "low", "count": 4})
    await fd.wait_for(lambda: draw.original_message_id is not None, what="the refusal")
    await running.tracker.wait(draw.id)

    one = running.bot.service.estimate(_job(running, draw), 0)
    assert one * 3 <= 100_000 < one * 4  # three would fit, four don't
    text = fd.messages[draw.original_message_id].content
    assert draw.ephemeral and f"these 4 images together may cost up to {format_usd(one * 4)}" in text
    assert posts(harness) == [] and await running.store.variation_turns(draw.id) == []


def _job(running: RunningBot, draw: FakeInteraction) -> Job:
    return Job(interaction_id=draw.id, user_id=1, guild_id=None, channel_id=1, kind="draw", prompt=PROMPT,
               options=ImageOptions(quality="low"), chain_id=None)


async def test_variations_in_a_thread_run_side_by_side_and_leave_its_head(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    first = await harness.command(running, "draw", {"prompt": "a boat", "quality": "low"})
    thread_id = first.original_message_id
    head = await running.store.get_head(thread_id)
    hold = asyncio.Event()
    for colour in COLOURS[:2]:
        harness.openai.queue_script(ImageScript(final_color=colour, hold_final=hold))
    draw = await fd.invoke_slash("draw", {"prompt": PROMPT, "quality": "low", "count": 2}, channel_id=thread_id)
    # Both are with OpenAI at once: variations don't wait for each other like turns of one conversation do.
    await fd.wait_for(lambda: len(posts(harness)) == 3, what="both variations running")
    hold.set()
    await running.tracker.wait(draw.id)
    turns = await group_turns(running, draw)
    assert [t.status for t in turns] == ["done", "done"] and all(t.chain_id == thread_id for t in turns)
    after = await running.store.get_head(thread_id)
    assert head is not None and after is not None and after.id == head.id


async def test_after_a_crash_variations_are_finished_in_their_cells_of_the_grid(harness: Harness) -> None:
    fd = harness.discord
    first = await harness.start_bot()
    for colour in COLOURS[:3]:
        harness.openai.queue_script(ImageScript(final_color=colour))
    draw = await harness.command(first, "draw", {"prompt": PROMPT, "quality": "low", "count": 3})
    one, two, three = await group_turns(first, draw)
    await harness.stop_bot(first)
    # As a crash leaves them: the first was still running, the second was paid for but not yet posted, the
    # third was done.
    store = await SqliteStore.open(harness.tmp_path / "threadpaint.db")
    await sql(store, "UPDATE turns SET status = 'running' WHERE id = ?", (one.id,))
    await sql(store, "UPDATE turns SET status = 'delivering' WHERE id = ?", (two.id,))
    await sql(store, "UPDATE outbox SET image = ? WHERE turn_id = ?", (make_image((5, 5, 250), (64, 64)), two.id))
    await store.close()

    second = await harness.start_bot()
    await second.bot.recovered.wait()

    grid = fd.messages[draw.original_message_id]
    # The grid stays: each cell updated, the finished one as it was.
    assert cells(grid_png(harness, grid.id), 3) == [FAILED, (5, 5, 250), generation_of(harness, three).final_color]
    assert "**1:** ⚠️ This request was interrupted" in grid.content
    assert "**2:** Delivered after the bot restarted." in grid.content
    assert f"**3:** Cost {format_usd(three.cost_micros)}." in grid.content
    assert buttons(harness, grid.id) == [
        (f"tp:use:{two.id}", "Use 2"), (f"tp:use:{three.id}", "Use 3"),
        *[(f"tp:vreroll:{t.id}", f"Reroll {i}") for i, t in enumerate((one, two, three), start=1)],
    ]
    recovered = await second.store.get_turn(two.id)
    assert recovered is not None and recovered.status == "done"
    chain = await second.store.get_chain(grid.id)
    assert chain is not None and chain.head_turn_id is None


async def test_the_grid_is_redrawn_no_faster_than_the_preview_pacing(harness: Harness) -> None:
    fd = harness.discord
    # A minute between paced redraws: the first preview shows at once, later ones wait and are dropped at the end.
    running = await harness.start_bot(PREVIEW_INTERVAL="60")
    hold = asyncio.Event()
    for colour in COLOURS:
        harness.openai.queue_script(ImageScript(final_color=colour, hold_final=hold))
    draw = await fd.invoke_slash("draw", {"prompt": PROMPT, "quality": "low", "count": 4})

    def grids() -> list[FakeMessage]:
        if draw.original_message_id is None:
            return []
        return [v for v in fd.messages[draw.original_message_id].versions() if v.attachments]

    await fd.wait_for(lambda: len(grids()) == 2 and len(posts(harness)) == 4, what="the first paced preview")
    hold.set()
    await running.tracker.wait(draw.id)
    # The empty grid, one paced preview, and one redraw as each of the four finished: not one per preview (8).
    assert len(grids()) == 6
    turns = await group_turns(running, draw)
    assert cells(grids()[-1].attachments[0].data, 4) == [generation_of(harness, t).final_color for t in turns]


async def test_use_and_reroll_follow_the_same_rules_as_the_other_buttons(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": PROMPT, "quality": "low", "count": 2})
    one, two = await group_turns(running, draw)
    settings = await running.store.get_guild_settings(fd.guild_id)
    await running.store.set_guild_settings(fd.guild_id, replace(settings, edit_policy="starter"), fd.user_id)
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS  # no Manage Threads or Messages

    for custom_id in (f"tp:use:{one.id}", f"tp:vreroll:{two.id}"):
        press = await click(harness, running, draw.original_message_id, custom_id, user_id=fd.other_user_id)
        refusal = fd.messages[press.original_message_id].content
        assert press.ephemeral and "only the person who started this thread" in refusal, custom_id
    assert len(posts(harness)) == 2 and len(await group_turns(running, draw)) == 2
    chain = await running.store.get_chain(draw.original_message_id)
    assert chain is not None and chain.head_turn_id is None
    # The starter may.
    await click(harness, running, draw.original_message_id, f"tp:use:{one.id}")
    assert (await running.store.get_chain(draw.original_message_id)).head_turn_id == one.id  # type: ignore[union-attr]
