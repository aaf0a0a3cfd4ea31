"""SQLite only: the outbox's own connection, its checkpoints, and the in-memory database that has neither."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.core.models import Delivery, NewTurn, TurnResult
from bot.core.options import ImageOptions
from bot.core.usage import Usage
from bot.storage import SqliteStore

IMAGE = os.urandom(3_000_000)  # 3 MB of incompressible pages


def turn(interaction_id: int) -> NewTurn:
    return NewTurn(
        chain_id=None, interaction_id=interaction_id, guild_id=1, channel_id=800, user_id=5, kind="draw",
        prompt="a cat", options=ImageOptions(quality="low"), had_input_image=False, reply_channel_id=800,
        reply_message_id=None,
    )


async def deliver_one(store: SqliteStore, interaction_id: int) -> int:
    turn_id = await store.create_turn(turn(interaction_id))
    assert turn_id is not None
    await store.save_result(turn_id, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
    [pending] = await store.pending_deliveries()
    assert pending.image == IMAGE and pending.turn.status == "delivering"
    await store.complete_turn(turn_id, Delivery(900 + turn_id, "thread", 800, 800, 950), owner_id=5, guild_id=1)
    assert await store.pending_deliveries() == [] and await store.outbox_size() == 0
    return turn_id


@pytest.mark.parametrize("where", ["file", "memory"])
async def test_an_image_goes_through_the_outbox(tmp_path: Path, where: str) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db" if where == "file" else ":memory:")
    try:
        turn_id = await deliver_one(store, 1)
        done = await store.get_turn(turn_id)
        assert done is not None and done.status == "done" and done.reply_message_id == 950
        assert (await store.get_head(900 + turn_id)) == done
    finally:
        await store.close()


async def test_a_failed_outbox_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"):  # no such turn: the insert fails, nothing is kept
            await store.save_result(12345, TurnResult("resp", "ig", None, Usage()), IMAGE, "png")
        assert await store.outbox_size() == 0
        await deliver_one(store, 2)  # and the connection is usable afterwards
    finally:
        await store.close()


async def test_posted_images_are_checkpointed_into_the_database_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await SqliteStore.open(path)
    try:
        for interaction_id in range(3):
            await deliver_one(store, interaction_id)
        # Far below SQLite's own automatic checkpoint (see BACKSTOP_CHECKPOINT_PAGES): only the bot's
        # background checkpoint copies the image pages from the WAL into the database file.
        outbox = store._outbox
        assert outbox is not None
        # The checkpoint thread runs one call at a time: a no-op queued behind it returns once it is done.
        await asyncio.get_running_loop().run_in_executor(outbox._checkpointer, lambda: None)
        assert path.stat().st_size >= len(IMAGE)
    finally:
        await store.close()
