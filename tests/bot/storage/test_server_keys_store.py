"""Servers' own keys in both stores: the ciphertext row, and which key paid (the bot cap skips servers')."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.core.errors import OverBudget
from bot.storage import BotStore
from tests.bot.storage.test_store_contract import StoreFactory, budget, new_turn


async def test_a_server_key_is_stored_removed_and_remembered(store_factory: StoreFactory) -> None:
    store = await store_factory()
    assert await store.get_server_key(1) == (False, None)  # never had one
    await store.set_server_key(1, "gAAAA-ciphertext", 42)
    assert await store.get_server_key(1) == (True, "gAAAA-ciphertext")
    assert await store.get_server_key(2) == (False, None)
    await store.close()
    reopened = await store_factory()
    assert await reopened.get_server_key(1) == (True, "gAAAA-ciphertext")
    await reopened.set_server_key(1, None, 43)
    assert await reopened.get_server_key(1) == (True, None)  # removed, but it had one


async def test_the_bot_cap_counts_only_the_owners_key(store: BotStore) -> None:
    server_paid = dataclasses.replace(new_turn(1), paid_by="server")
    assert await store.create_turn(server_paid, reserve=900, limits=[budget(1000, "bot", 0)]) is not None
    # 900 held on the server's key: the owner's cap of 1000 still has room for 1000.
    assert await store.create_turn(new_turn(2), reserve=1000, limits=[budget(1000, "bot", 0)]) is not None
    with pytest.raises(OverBudget):
        await store.create_turn(new_turn(3), reserve=1, limits=[budget(1000, "bot", 0)])
    # A server's own budget counts every job of the server, whoever's key paid.
    with pytest.raises(OverBudget):
        await store.create_turn(dataclasses.replace(new_turn(4), paid_by="server"), reserve=101,
                                limits=[budget(2000, "server", 1)])


async def test_spend_by_key(store: BotStore) -> None:
    first = await store.create_turn(dataclasses.replace(new_turn(1), paid_by="server"), reserve=10)
    second = await store.create_turn(new_turn(2), reserve=10)
    assert first is not None and second is not None
    await store.fail_turn(first, "x", "x", charge=300)
    await store.fail_turn(second, "x", "x", charge=50)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert await store.spend(since=since, user_id=5) == 350
    assert await store.spend(since=since, user_id=5, paid_by="server") == 300
    assert await store.spend(since=since, guild_id=1, paid_by="owner") == 50
