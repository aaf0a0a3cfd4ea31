"""/forget end to end (confirmation buttons, local deletion, OpenAI deletion) and the retention purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

import openai
import pytest

from bot.core.privacy import delete_stored_responses
from bot.storage import SqliteStore
from cogs.privacy import CANCEL_ID, CANCELLED, CONFIRM_ID, NOT_YOURS, QUESTION, TIMED_OUT, WORKING, Privacy
from tests.bot.storage.test_privacy import add_turn, chain_ids, turn_ids
from tests.fakes.discord_state import FakeInteraction, FakeMessage
from tests.fakes.openai_server import FakeOpenAI
from tests.harness import Harness, RunningBot


async def ask_to_forget(harness: Harness, user_id: int | None = None) -> tuple[FakeInteraction, FakeMessage]:
    """Run /forget; return the interaction (still running: it waits for an answer) and the private question."""
    fd = harness.discord
    forget = await fd.invoke_slash("forget", user_id=user_id)
    await fd.wait_for(lambda: forget.original_message_id is not None, what="the /forget question")
    return forget, fd.messages[forget.original_message_id]  # type: ignore[index]


async def two_threads(harness: Harness, running: RunningBot) -> tuple[int, int]:
    """Alice's thread with Bob's edit in it, and Bob's own thread."""
    fd = harness.discord
    alice = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    assert alice.original_message_id is not None
    await harness.command(running, "edit", {"instruction": "at night"}, channel_id=alice.original_message_id,
                          user_id=fd.other_user_id)
    bob = await harness.command(running, "draw", {"prompt": "a boat"}, user_id=fd.other_user_id)
    assert bob.original_message_id is not None
    return alice.original_message_id, bob.original_message_id


def buttons(message: FakeMessage) -> list[str]:
    return [c["custom_id"] for row in message.components for c in row["components"]]


async def test_forget_after_confirming_deletes_here_and_at_openai(harness: Harness) -> None:
    fd, fo = harness.discord, harness.openai
    running = await harness.start_bot()
    alice_thread, bob_thread = await two_threads(harness, running)
    alice_chain = await running.store.list_turns(alice_thread)
    [bob_turn] = await running.store.list_turns(bob_thread)
    responses = [t.response_id for t in alice_chain]

    forget, question = await ask_to_forget(harness)
    assert forget.ephemeral and question.content == str(QUESTION)
    assert buttons(question) == [CONFIRM_ID, CANCEL_ID]
    await fd.invoke_component(question.id, CONFIRM_ID)
    await running.tracker.wait(forget.id)

    assert any(v.content == str(WORKING) and not v.components for v in question.versions())
    assert question.content.startswith("Done. I deleted 2 image records and 1 conversation.")
    assert "OpenAI deleted 2 stored responses." in question.content and question.components == []
    # Alice's thread is gone, Bob's turn in it too; Bob's own thread stays, at OpenAI as well.
    assert await turn_ids(running.store) == {bob_turn.id}
    assert await chain_ids(running.store) == {bob_thread}
    assert sorted(fo.deleted_responses) == sorted(responses)
    assert bob_turn.response_id in fo.stored and not set(responses) & set(fo.stored)
    assert [r.method for r in fo.requests if r.path.startswith("/v1/responses/")] == ["DELETE", "DELETE"]


async def test_cancel_deletes_nothing(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await harness.command(running, "draw", {"prompt": "a lighthouse"})

    forget, question = await ask_to_forget(harness)
    click = await fd.invoke_component(question.id, CANCEL_ID)
    await running.tracker.wait(forget.id)

    assert click.ack_type == 7 and question.content == str(CANCELLED) and question.components == []
    assert len(await turn_ids(running.store)) == 1 and harness.openai.deleted_responses == []


async def test_only_the_caller_can_confirm(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    await harness.command(running, "draw", {"prompt": "a lighthouse"})
    forget, question = await ask_to_forget(harness)

    stranger = await fd.invoke_component(question.id, CONFIRM_ID, user_id=fd.other_user_id)
    await fd.wait_for(lambda: stranger.ack_type is not None, what="the refusal")

    assert stranger.ack_type == 4 and stranger.ephemeral
    assert fd.messages[stranger.original_message_id].content == str(NOT_YOURS)  # type: ignore[index]
    assert question.content == str(QUESTION) and len(await turn_ids(running.store)) == 1
    # The question still works for its owner.
    await fd.invoke_component(question.id, CONFIRM_ID)
    await running.tracker.wait(forget.id)
    assert await turn_ids(running.store) == set()


async def test_no_answer_times_out_and_deletes_nothing(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    privacy_cog(running).confirm_timeout = 0.2
    await harness.command(running, "draw", {"prompt": "a lighthouse"})

    forget, question = await ask_to_forget(harness)
    await running.tracker.wait(forget.id)
    await fd.wait_for(lambda: question.content == str(TIMED_OUT), what="the timeout notice")

    assert question.components == [] and len(await turn_ids(running.store)) == 1
    with pytest.raises(ValueError, match="no enabled button"):
        await fd.invoke_component(question.id, CONFIRM_ID)  # the buttons are gone


async def test_forget_reports_responses_openai_already_dropped(harness: Harness) -> None:
    fd, fo = harness.discord, harness.openai
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    [turn] = await running.store.list_turns(draw.original_message_id)  # type: ignore[arg-type]
    assert turn.response_id is not None
    fo.forget_response(turn.response_id)  # OpenAI's 30 days are over: DELETE answers 404

    forget, question = await ask_to_forget(harness)
    await fd.invoke_component(question.id, CONFIRM_ID)
    await running.tracker.wait(forget.id)

    assert "OpenAI deleted 1 stored response." in question.content and "could not" not in question.content
    assert fo.deleted_responses == [] and [r.status for r in fo.requests if r.method == "DELETE"] == [404]


async def test_forget_with_nothing_stored_says_so(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    forget, question = await ask_to_forget(harness)
    await fd.invoke_component(question.id, CONFIRM_ID)
    await running.tracker.wait(forget.id)
    assert question.content == "Done. I deleted 0 image records and 0 conversations."


# ---------------------------------------------------------------------------------------------- OpenAI deletion


async def test_delete_stored_responses_counts_and_never_raises(fake_openai: FakeOpenAI) -> None:
    fake_openai.stored.update({"resp_a": {}, "resp_b": {}})
    async with openai.AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0,
                                  _strict_response_validation=True) as client:
        assert await delete_stored_responses(client, ["resp_a", "resp_b", "resp_gone", "resp_a"]) == (3, 0)
    assert fake_openai.deleted_responses == ["resp_a", "resp_b"]
    # Nobody listening: every delete fails, none raises.
    async with openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0,
                                  timeout=2.0) as offline:
        assert await delete_stored_responses(offline, ["resp_x", "resp_y"]) == (0, 2)
    async with openai.AsyncOpenAI(api_key="sk-wrong", base_url=fake_openai.base_url, max_retries=0) as wrong_key:
        assert await delete_stored_responses(wrong_key, ["resp_z"]) == (0, 1)  # 401


# ---------------------------------------------------------------------------------------------- retention


def privacy_cog(running: RunningBot) -> Privacy:
    # load_extension executes cogs/privacy.py afresh, so the bot's class is not the one imported here.
    cog = running.bot.get_cog("Privacy")
    assert cog is not None and type(cog).__qualname__ == Privacy.__qualname__
    return cast(Privacy, cog)


async def test_purge_deletes_finished_turns_older_than_retention(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(RETENTION_DAYS="7")
    now = running.bot.clock()
    store = running.store
    old = now - timedelta(days=8)
    gone = [await add_turn(store, user_id=fd.user_id, chain_id=100, created_at=old),
            await add_turn(store, user_id=fd.user_id, chain_id=300, status="failed", created_at=old)]
    kept = [await add_turn(store, user_id=fd.user_id, chain_id=200, created_at=now - timedelta(days=6)),
            await add_turn(store, user_id=fd.user_id, chain_id=500, status="running", created_at=old),
            await add_turn(store, user_id=fd.user_id, chain_id=500, status="delivering", created_at=old)]

    assert await privacy_cog(running).purge_expired() == 2

    assert await turn_ids(store) == set(kept) and set(gone).isdisjoint(await turn_ids(store))


async def test_purge_runs_once_at_start_and_then_daily(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # An old record in the database before the bot starts is gone shortly after start, without any command.
    store = await SqliteStore.open(harness.settings().database_path)
    try:
        expired = datetime.now(UTC) - timedelta(days=harness.settings().retention_days + 1)
        old = await add_turn(store, user_id=1, chain_id=100, created_at=expired)
        recent = await add_turn(store, user_id=1, chain_id=200)
    finally:
        await store.close()

    purged = asyncio.Event()
    purge_before = SqliteStore.purge_before

    async def observed(self: SqliteStore, cutoff: datetime) -> int:
        try:
            return await purge_before(self, cutoff)
        finally:
            purged.set()

    monkeypatch.setattr(SqliteStore, "purge_before", observed)
    running = await harness.start_bot()
    await asyncio.wait_for(purged.wait(), 10)  # the first run, with no command
    assert await turn_ids(running.store) == {recent}, f"{old} was kept"
    loop = privacy_cog(running).retention
    assert loop.is_running() and loop.hours == 24

    await harness.stop_bot(running)
    assert not loop.is_running()  # cancelled with the cog
