"""What members see: no pings, no upstream internals, and their own words shown as words, never as links."""

from __future__ import annotations

import logging
import re

import pytest

from tests.fakes.discord_state import MEMBER_PERMISSIONS
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness

TRAP = "[Open the result](https://evil.example/steal) <@123456789012345678> @everyone # big"


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def test_openai_400_text_goes_to_the_log_and_the_member_gets_an_error_id(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    running = await harness.start_bot()
    harness.openai.add_fault(Fault.http(
        400, "Invalid value for 'tools[0].background': internal-route-7 rejected", type_="invalid_request_error",
        code="invalid_value", param="tools[0].background",
    ))
    with caplog.at_level(logging.WARNING):
        draw = await harness.command(running, "draw", {"prompt": "a kite"})
    # The member's own request was refused: told privately (the public "Drawing…" line is taken away).
    text = harness.discord.messages[draw.followup_ids[-1]].content
    assert "internal-route-7" not in text and "tools[0]" not in text
    match = re.search(r"error id ([0-9a-f]{8})", text)
    assert match and text.startswith("❌ OpenAI couldn't accept this request"), text
    logged = [r.getMessage() for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and "internal-route-7" in logged[0]


async def test_nothing_the_bot_sends_pings_anyone(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(event_delay=0.3))
    draw = await fd.invoke_slash("draw", {"prompt": "a kite"})
    await fd.wait_for(lambda: len(posts(harness)) == 1, what="the draw to stream")
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    fd.member_permissions[fd.other_user_id] = MEMBER_PERMISSIONS | (1 << 13)  # Manage Messages: a moderator
    await fd.invoke_component(draw.original_message_id, f"tp:cancel:{turn.id}", user_id=fd.other_user_id)
    await running.tracker.wait(draw.id)
    reply = fd.messages[draw.original_message_id]  # type: ignore[index]
    assert f"Cancelled by <@{fd.other_user_id}>" in reply.content
    assert [m.pinged for m in fd.messages.values() if m.pinged] == []


async def test_prompts_are_shown_as_typed_in_results_and_history(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.queue_script(ImageScript(revised_prompt="See [here](https://evil.example/x)"))
    draw = await harness.command(running, "draw", {"prompt": TRAP})
    [embed] = fd.messages[draw.original_message_id].embeds  # type: ignore[index]
    history = await harness.command(running, "history", channel_id=draw.original_message_id)
    [listing] = fd.messages[history.original_message_id].embeds  # type: ignore[index]
    for text in (embed["description"], listing["fields"][0]["value"]):
        assert not re.search(r"(?<!\\)\]\(https://evil", text) and not re.search(r"(?<!\\)<@1234", text)
        assert "@everyone" not in text
        assert r"\[Open the result\]\(https://evil.example/steal\) \<@123456789012345678\>" in text
    assert listing["fields"][0]["value"].count("](") == 1  # only the bot's own "Open the result" link
