"""A server's own OpenAI key end to end: set through a modal, checked once, encrypted, billed, removed, shown."""

from __future__ import annotations

from cryptography.fernet import Fernet

from bot.core.costs import format_usd
from tests.cogs.test_settings import settings, stored
from tests.cogs.test_usage import fields_of
from tests.fakes.discord_state import FakeInteraction
from tests.harness import Harness, RunningBot

SECRET = Fernet.generate_key().decode()
SERVER_KEY = "sk-proj-server0wnKey0123456789abcdefXYZ"
OWNER = "Bearer sk-test"  # the fake's (and so the bot's) OPENAI_API_KEY


def auth_of(harness: Harness, method: str, path: str) -> list[str]:
    """The Authorization header of each request the fake OpenAI received on this route, in order."""
    return [r.headers.get("authorization", "") for r in harness.openai.requests if r.method == method
            and r.path == path]


async def set_key(harness: Harness, running: RunningBot, key: str) -> str:
    """/threadpaint settings key action:set, then type the key into the modal; returns the private reply."""
    fd = harness.discord
    opened = await fd.invoke_slash("threadpaint", {"action": "set"}, subcommand="settings key")
    await fd.wait_for(lambda: opened.ack_type is not None, what="the modal")
    assert opened.ack_type == 9 and opened.modal is not None and opened.modal["title"] == "Set this server's OpenAI key"
    [[field]] = [row["components"] for row in opened.modal["components"]]
    submit = await fd.submit_modal(opened, {field["custom_id"]: f"  {key}  "})
    await fd.wait_for(lambda: submit.original_message_id is not None, what="the answer to the key")
    await running.tracker.wait_any(submit.id)
    return private(harness, submit)


def private(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.ephemeral
    return harness.discord.messages[interaction.original_message_id].content


async def test_a_key_set_in_a_modal_is_checked_encrypted_and_bills_the_servers_jobs(harness: Harness) -> None:
    harness.openai.other_keys.add(SERVER_KEY)
    running = await harness.start_bot(SERVER_KEYS_SECRET=SECRET)
    text = await set_key(harness, running, SERVER_KEY)
    assert text.startswith("✅ This server's own OpenAI key is saved (encrypted).")
    assert "**OpenAI key:** this server's own" in text and SERVER_KEY not in text  # never echoed
    assert auth_of(harness, "GET", "/v1/models") == [f"Bearer {SERVER_KEY}"]  # checked once, with that key
    had_one, ciphertext = await running.store.get_server_key(harness.discord.guild_id)
    assert had_one and ciphertext is not None and SERVER_KEY not in ciphertext
    assert Fernet(SECRET.encode()).decrypt(ciphertext.encode()).decode() == SERVER_KEY

    draw = await harness.command(running, "draw", {"prompt": "a lantern"})
    assert not draw.ephemeral
    assert auth_of(harness, "POST", "/v1/responses") == [f"Bearer {SERVER_KEY}"]
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None and turn.cost_micros > 0
    usage = await harness.command(running, "usage")
    assert fields_of(harness, usage)["Of this month, paid with servers' own OpenAI keys"] == format_usd(
        turn.cost_micros)
    assert fields_of(harness, usage)["Of the server's month, paid with its own OpenAI key"] == format_usd(
        turn.cost_micros)

    await harness.stop_bot(running)
    again = await harness.start_bot(SERVER_KEYS_SECRET=SECRET)  # kept across restarts, read with the same secret
    await harness.command(again, "draw", {"prompt": "a lantern"})
    assert auth_of(harness, "POST", "/v1/responses")[-1] == f"Bearer {SERVER_KEY}"


async def test_a_key_openai_refuses_is_not_saved(harness: Harness) -> None:
    running = await harness.start_bot(SERVER_KEYS_SECRET=SECRET)
    text = await set_key(harness, running, "sk-proj-not-a-real-key-000000000000")
    assert text.startswith("❌ OpenAI didn't accept that key (it may be mistyped, revoked or without API access). "
                           "Nothing was saved.")
    assert "**OpenAI key:** the bot's" in text
    assert await running.store.get_server_key(harness.discord.guild_id) == (False, None)


async def test_the_owners_caps_dont_count_a_servers_key_but_its_own_budgets_do(harness: Harness) -> None:
    harness.openai.other_keys.add(SERVER_KEY)
    running = await harness.start_bot(SERVER_KEYS_SECRET=SECRET, BUDGET_BOT_DAILY_USD="0.01")
    owner_paid = await harness.command(running, "draw", {"prompt": "a kite"})
    assert "spending limit my owner set for the whole bot" in private(harness, owner_paid)
    await set_key(harness, running, SERVER_KEY)
    assert not (await harness.command(running, "draw", {"prompt": "a kite"})).ephemeral
    assert not (await harness.command(running, "draw", {"prompt": "a kite"})).ephemeral  # still no bot cap
    await settings(harness, running, "budget", {"scope": "server", "period": "daily", "dollars": "0.01"})
    refused = await harness.command(running, "draw", {"prompt": "a kite"})
    assert "This would go over this server's daily image budget of $0.010" in private(harness, refused)
    assert auth_of(harness, "POST", "/v1/responses") == [f"Bearer {SERVER_KEY}"] * 2


async def test_removing_the_key_goes_back_to_the_owners_key_where_allowed(harness: Harness) -> None:
    harness.openai.other_keys.add(SERVER_KEY)
    running = await harness.start_bot(SERVER_KEYS_SECRET=SECRET)
    await set_key(harness, running, SERVER_KEY)
    text = await settings(harness, running, "key", {"action": "remove"})
    assert text.startswith("✅ This server's own OpenAI key is removed.") and "**OpenAI key:** the bot's" in text
    assert await running.store.get_server_key(harness.discord.guild_id) == (True, None)
    await harness.command(running, "draw", {"prompt": "a kite"})
    assert auth_of(harness, "POST", "/v1/responses") == [OWNER]
    text = await settings(harness, running, "key", {"action": "remove"})
    assert text.startswith("❌ This server has no OpenAI key of its own.")


async def test_without_the_owners_fallback_a_server_that_removed_its_key_cant_draw(harness: Harness) -> None:
    harness.openai.other_keys.add(SERVER_KEY)
    running = await harness.start_bot(SERVER_KEYS_SECRET=SECRET, SERVER_KEY_FALLBACK="false")
    await harness.command(running, "draw", {"prompt": "a kite"})  # never had a key: the owner's, as always
    await set_key(harness, running, SERVER_KEY)
    text = await settings(harness, running, "key", {"action": "remove"})
    assert text.startswith("✅ This server's own OpenAI key is removed. The bot's owner doesn't lend their key")
    assert "**OpenAI key:** none (this server removed its own, and the bot's owner doesn't lend theirs)" in text
    refused = await harness.command(running, "draw", {"prompt": "a kite"})
    assert private(harness, refused) == (
        "This server removed its own OpenAI key, and the bot's owner doesn't lend theirs, so I can't make images "
        "here. A server manager can set a key with /threadpaint settings key."
    )
    assert auth_of(harness, "POST", "/v1/responses") == [OWNER]


async def test_without_a_secret_the_feature_is_off_and_says_so(harness: Harness) -> None:
    running = await harness.start_bot()
    text = await settings(harness, running, "key", {"action": "set"})
    assert text.startswith("❌ Servers can't use their own OpenAI key with this bot: its owner has not set "
                           "SERVER_KEYS_SECRET")
    assert await stored(running) is not None and auth_of(harness, "GET", "/v1/models") == []
