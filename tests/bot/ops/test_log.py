"""Logging: tokens, keys and interaction tokens never reach the log output, at any level."""

from __future__ import annotations

import io
import json
import logging
import secrets
import sys
from collections.abc import Iterator

import pytest

from bot.ops.log import NOISY_LOGGERS, REDACTED, BotLogHandler, RedactingFilter, setup_logging
from tests.fakes.discord_state import FakeInteraction
from tests.harness import Harness

BOT_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
ITOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OmFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"
RANDOM_TOKEN = "Iju00a-zbu2mEs_akv1RCAMEN8DZST-UuYuCG2jI4CJc8OWzKWEyN--eX3"  # no recognisable shape


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def make_record(msg: object, *args: object, exc_info: bool = False) -> logging.LogRecord:
    info = sys.exc_info() if exc_info else None
    return logging.LogRecord("discord.http", logging.DEBUG, __file__, 1, msg, args or None, info)


def scrubbed(msg: object, *args: object, secrets_: tuple[str, ...] = (BOT_TOKEN, "sk-test")) -> str:
    record = make_record(msg, *args)
    assert RedactingFilter(secrets_).filter(record) is True
    return record.getMessage()


# ---------------------------------------------------------------------------------------------- the filter


def test_configured_secrets_are_replaced_exactly() -> None:
    out = scrubbed(f"login with {BOT_TOKEN} and key sk-test done")
    assert BOT_TOKEN not in out and "sk-test" not in out
    assert out == f"login with {REDACTED} and key {REDACTED} done"


def test_secret_in_args_is_replaced_after_formatting() -> None:
    record = make_record("headers %s, body %r", {"x": f"Bot {RANDOM_TOKEN}"}, {"k": "sk-test"})
    RedactingFilter(["sk-test"]).filter(record)
    assert record.args is None
    out = record.getMessage()
    assert RANDOM_TOKEN not in out and "sk-test" not in out and "headers" in out


def test_dict_as_mapping_arg_is_formatted_then_scrubbed() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token is %(t)s", ({"t": "sk-test"},), None)
    RedactingFilter(["sk-test"]).filter(record)
    assert record.getMessage() == f"token is {REDACTED}"


def test_short_secrets_are_ignored_rather_than_redacting_words() -> None:
    assert scrubbed("a cat", secrets_=("a", "", "cat")) == "a cat"


@pytest.mark.parametrize("url", [
    f"POST http://127.0.0.1:1/api/v10/interactions/1575132926616535049/{RANDOM_TOKEN}/callback",
    f"PATCH https://discord.com/api/v10/webhooks/1575132925425352704/{RANDOM_TOKEN}/messages/@original",
    f"POST https://discord.com/api/v10/webhooks/1575132925425352704/{RANDOM_TOKEN}?wait=true",
    f"DELETE https://discord.com/api/v10/webhooks/1/{RANDOM_TOKEN}/messages/123",
    f"url='https://discord.com/api/v10/webhooks/1/{RANDOM_TOKEN}'",
    f"https://discord.com/api/v10/webhooks/1/{ITOKEN}/messages/@original",
])
def test_interaction_tokens_in_urls(url: str) -> None:
    out = scrubbed("Webhook ID 1 with %s has returned status code 200", url)
    assert RANDOM_TOKEN not in out and ITOKEN not in out
    assert "[token]" in out
    assert "/webhooks/" in out or "/interactions/" in out


def test_gateway_event_repr_token_is_replaced() -> None:
    event = {"op": 0, "t": "INTERACTION_CREATE", "d": {"id": "1", "token": RANDOM_TOKEN, "data": {"name": "draw"},
                                                       "usage": {"input_tokens": 120}}}
    out = scrubbed("For Shard ID %s: WebSocket Event: %s", None, event)
    assert RANDOM_TOKEN not in out
    assert f"'token': '{REDACTED}'" in out
    assert "'input_tokens': 120" in out and "INTERACTION_CREATE" in out


@pytest.mark.parametrize("text", [
    json.dumps({"type": 2, "token": RANDOM_TOKEN}),
    json.dumps({"type": 2, "token": RANDOM_TOKEN}, separators=(",", ":")),
    json.dumps(json.dumps({"interaction_token": RANDOM_TOKEN})),  # JSON escaped inside a string
    repr({"webhook_token": RANDOM_TOKEN}),
    repr({"access_token": RANDOM_TOKEN, "client_secret": "hunter2hunter2"}),
    repr({"api_key": RANDOM_TOKEN}),
    repr({"api-key": RANDOM_TOKEN}),
    f"token={RANDOM_TOKEN}&wait=true",
    f"OPENAI_API_KEY={RANDOM_TOKEN}",
])
def test_token_fields_in_payloads(text: str) -> None:
    out = scrubbed("sending %s", text)
    assert RANDOM_TOKEN not in out and "hunter2" not in out
    assert REDACTED in out


@pytest.mark.parametrize("text", [
    f"Authorization: Bot {RANDOM_TOKEN}",
    f"Authorization: Bearer {RANDOM_TOKEN}",
    f"{{'Authorization': 'Bot {RANDOM_TOKEN}', 'User-Agent': 'DiscordBot'}}",
    f'{{"authorization": "Bearer {RANDOM_TOKEN}"}}',
    f"headers=Bearer {RANDOM_TOKEN}",
    f"Bot {BOT_TOKEN}",
])
def test_authorization_headers(text: str) -> None:
    out = scrubbed(text, secrets_=())
    assert RANDOM_TOKEN not in out and BOT_TOKEN not in out
    assert REDACTED in out


def test_token_shapes_without_context() -> None:
    out = scrubbed(f"{BOT_TOKEN} | {API_KEY} | {ITOKEN}", secrets_=())
    assert out == f"{REDACTED} | {REDACTED} | {REDACTED}"


def test_a_token_seen_in_a_payload_is_scrubbed_wherever_it_shows_up_later() -> None:
    redactor = RedactingFilter(())
    first = make_record("event %s", {"token": RANDOM_TOKEN})
    later = make_record("retrying %s after error", RANDOM_TOKEN)
    redactor.filter(first)
    redactor.filter(later)
    assert later.getMessage() == f"retrying {REDACTED} after error"


def test_exception_traceback_is_formatted_and_scrubbed() -> None:
    try:
        raise RuntimeError(f"404 for https://x/api/v10/webhooks/1/{RANDOM_TOKEN}/messages/@original key sk-test")
    except RuntimeError:
        record = make_record("command failed", exc_info=True)
    RedactingFilter(["sk-test"]).filter(record)
    assert record.exc_text is not None
    assert "Traceback" in record.exc_text and "RuntimeError" in record.exc_text
    assert RANDOM_TOKEN not in record.exc_text and "sk-test" not in record.exc_text
    line = logging.Formatter("%(message)s").format(record)
    assert RANDOM_TOKEN not in line and "sk-test" not in line and "[token]" in line


def test_precomputed_exc_text_and_stack_info_are_scrubbed() -> None:
    record = make_record("boom")
    record.exc_text = f"Traceback ...\nValueError: Authorization: Bot {RANDOM_TOKEN}"
    record.stack_info = "Stack (most recent call last):\n  token=sk-test"
    RedactingFilter(["sk-test"]).filter(record)
    assert RANDOM_TOKEN not in record.exc_text and "sk-test" not in record.stack_info


def test_malformed_call_is_still_scrubbed() -> None:
    record = make_record("two %s %s", "sk-test")  # one arg short: getMessage raises
    RedactingFilter(["sk-test"]).filter(record)
    assert "sk-test" not in record.getMessage()


def test_ordinary_text_is_left_alone() -> None:
    for text in ("job 12 turn 3: draw in 45", "interaction token expired; posting the reply as a new message",
                 '{"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}',
                 "Bot ready", "Shard ID None has connected to Gateway", "'token': None"):
        assert scrubbed(text) == text


def test_scrubbing_twice_changes_nothing() -> None:
    redactor = RedactingFilter([BOT_TOKEN])
    once = redactor.scrub(f"/webhooks/1/{RANDOM_TOKEN} {{'token': '{RANDOM_TOKEN}'}} token={RANDOM_TOKEN}")
    assert redactor.scrub(once) == once


# ---------------------------------------------------------------------------------------------- setup_logging


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_replaces_only_its_own_handler() -> None:
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    first, second = io.StringIO(), io.StringIO()
    setup_logging("INFO", stream=first)
    handler = setup_logging("INFO", secrets=["sk-test"], stream=second)
    assert other in root.handlers
    assert [h for h in root.handlers if isinstance(h, BotLogHandler)] == [handler]
    logging.getLogger("some.library").info("key sk-test")
    assert first.getvalue() == ""
    [line] = second.getvalue().splitlines()
    assert line.endswith(f"INFO    some.library: key {REDACTED}")


@pytest.mark.usefixtures("restore_logging")
def test_every_logger_is_scrubbed_even_when_it_bypasses_logger_filters() -> None:
    buf = io.StringIO()
    setup_logging("DEBUG", secrets=[BOT_TOKEN], stream=buf)
    for name in ("discord.http", "discord.webhook.async_", "openai._base_client", "aiosqlite", "unrelated"):
        logging.getLogger(name).debug("Authorization: Bot %s", BOT_TOKEN)
    logging.getLogger().debug("root %s", BOT_TOKEN)
    out = buf.getvalue()
    assert out.count(REDACTED) == 6 and BOT_TOKEN not in out


@pytest.mark.usefixtures("restore_logging")
def test_noisy_libraries_are_turned_down_unless_debug() -> None:
    setup_logging("info", stream=io.StringIO())
    assert logging.getLogger().level == logging.INFO
    assert all(logging.getLogger(name).level == logging.WARNING for name in NOISY_LOGGERS)
    setup_logging("ERROR", stream=io.StringIO())
    assert all(logging.getLogger(name).level == logging.ERROR for name in NOISY_LOGGERS)
    setup_logging("DEBUG", stream=io.StringIO())
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.DEBUG for name in NOISY_LOGGERS)


# ---------------------------------------------------------------------------------------------- end to end

DRAW_PROMPT = "a zebra-striped teapot floating above the moon"
EDIT_PROMPT = "paint the teapot in tangerine polka dots"


async def draw_then_edit(harness: Harness) -> list[FakeInteraction]:
    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": DRAW_PROMPT})
    thread_id = draw.original_message_id
    assert thread_id is not None
    edit = await harness.command(running, "edit", {"instruction": EDIT_PROMPT}, channel_id=thread_id)
    await harness.stop_bot(running)
    return [draw, edit]


@pytest.mark.usefixtures("restore_logging")
async def test_a_whole_draw_and_edit_at_debug_leaks_no_secret(harness: Harness) -> None:
    harness.openai.api_key = f"test-key-{secrets.token_urlsafe(24)}"  # long and shapeless: only the exact match
    buf = io.StringIO()
    setup_logging("DEBUG", secrets=[harness.discord.token, harness.openai.api_key], stream=buf)

    interactions = await draw_then_edit(harness)

    out = buf.getvalue()
    # DEBUG really was captured, from discord.py's gateway, REST and webhook loggers and from the OpenAI SDK.
    assert len(out.splitlines()) > 50
    assert "INTERACTION_CREATE" in out and "IDENTIFY" in out
    assert "/callback" in out and "/messages/@original" in out
    assert "openai" in out and "POST" in out
    assert f"'token': '{REDACTED}'" in out and "[token]" in out
    leaks = {"bot token": harness.discord.token, "OpenAI key": harness.openai.api_key}
    leaks.update({f"/{i.name} interaction token": i.token for i in interactions})
    for what, value in leaks.items():
        leaked = [line for line in out.splitlines() if value in line]
        assert not leaked, f"{what} leaked in {len(leaked)} line(s), e.g. {leaked[0][:300]}"


@pytest.mark.usefixtures("restore_logging")
async def test_info_logs_the_jobs_but_no_prompt_text(harness: Harness) -> None:
    buf = io.StringIO()
    setup_logging("INFO", secrets=[harness.discord.token, harness.openai.api_key], stream=buf)

    interactions = await draw_then_edit(harness)

    out = buf.getvalue()
    assert " DEBUG " not in out
    for interaction in interactions:
        assert f"job {interaction.id} turn" in out
        assert interaction.token not in out
    assert out.count(" done: head of ") == 2
    for prompt in (DRAW_PROMPT, EDIT_PROMPT):
        assert prompt not in out
        assert not any(word in out for word in prompt.split() if len(word) > 6), "prompt words at INFO"
