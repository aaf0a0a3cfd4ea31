"""LOG_FORMAT=json: one JSON object per line, the job on every line of a job, secrets still redacted."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.observe import JobTag, current_job
from bot.ops.log import NOISY_LOGGERS, REDACTED, setup_logging
from tests.harness import Harness

BOT_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture(autouse=True)
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


def entries(buf: io.StringIO) -> list[dict[str, Any]]:
    lines = buf.getvalue().splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_a_line_has_time_level_logger_and_message() -> None:
    buf = io.StringIO()
    setup_logging("INFO", stream=buf, fmt="json")
    logging.getLogger("some.library").warning("hello %s", "world")
    [entry] = entries(buf)
    assert entry["level"] == "WARNING" and entry["logger"] == "some.library" and entry["message"] == "hello world"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert "job" not in entry and "exception" not in entry


def test_secrets_are_redacted_in_messages_and_exceptions() -> None:
    buf = io.StringIO()
    setup_logging("DEBUG", secrets=[BOT_TOKEN, "sk-test-abcdef"], stream=buf, fmt="json")
    log = logging.getLogger("discord.http")
    log.debug('headers {"Authorization": "Bot %s"} key sk-test-abcdef', BOT_TOKEN)
    log.debug("POST /webhooks/123/%s/messages/@original", "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEy")
    try:
        raise RuntimeError(f"login failed for {BOT_TOKEN}")
    except RuntimeError:
        log.exception("oops with token=%s", "sk-test-abcdef")
    out = buf.getvalue()
    assert BOT_TOKEN not in out and "sk-test-abcdef" not in out and "aW50ZXJhY3Rpb246" not in out
    first, second, third = entries(buf)
    assert REDACTED in first["message"]
    assert "/webhooks/123/[token]/messages" in second["message"]
    assert third["message"] == f"oops with token={REDACTED}"
    assert "RuntimeError: login failed for" in third["exception"] and REDACTED in third["exception"]


def test_quotes_and_newlines_stay_one_line_of_json() -> None:
    buf = io.StringIO()
    setup_logging("INFO", stream=buf, fmt="json")
    logging.getLogger("x").info('a "quoted"\nmulti-line \\ message with "token": "abcdefgh12345678"')
    [entry] = entries(buf)
    assert entry["message"].startswith('a "quoted"\nmulti-line \\ message')
    assert "abcdefgh12345678" not in entry["message"]


def test_lines_logged_while_a_job_runs_carry_its_ids() -> None:
    buf = io.StringIO()
    setup_logging("INFO", stream=buf, fmt="json")
    reset = current_job.set(JobTag(42, 1234567890))
    try:
        logging.getLogger("anything").info("inside")
    finally:
        current_job.reset(reset)
    logging.getLogger("anything").info("outside")
    inside, outside = entries(buf)
    assert (inside["job"], inside["interaction"]) == (42, 1234567890)
    assert "job" not in outside and "interaction" not in outside


def test_text_format_is_unchanged() -> None:
    buf = io.StringIO()
    setup_logging("INFO", stream=buf)
    logging.getLogger("some.library").info("plain")
    assert buf.getvalue().rstrip("\n").endswith("INFO    some.library: plain")


async def test_a_draw_at_debug_is_all_json_with_the_job_on_its_lines_and_no_secret(harness: Harness) -> None:
    harness.openai.api_key = f"test-key-{secrets.token_urlsafe(24)}"
    buf = io.StringIO()
    setup_logging("DEBUG", secrets=[harness.discord.token, harness.openai.api_key], stream=buf, fmt="json")

    running = await harness.start_bot()
    draw = await harness.command(running, "draw", {"prompt": "a teapot"})
    edit = await harness.command(running, "edit", {"instruction": "make it red"}, channel_id=draw.original_message_id)
    await harness.stop_bot(running)

    out = buf.getvalue()
    for secret in (harness.discord.token, harness.openai.api_key, draw.token, edit.token):
        assert secret not in out
    lines = entries(buf)
    assert len(lines) > 50
    started = [e for e in lines if e["logger"] == "bot.core.service" and " turn " in e["message"]]
    assert {e["interaction"] for e in started} == {draw.id, edit.id}
    for interaction in (draw, edit):
        job_lines = [e for e in lines if e.get("interaction") == interaction.id]
        turns = {e["job"] for e in job_lines}
        assert len(turns) == 1, "one job id per job"
        [turn] = turns
        # The service's own lines and the library's lines while the job ran (REST calls, OpenAI's SDK).
        assert any(e["message"].startswith(f"turn {turn} done") for e in job_lines)
        assert any(e["logger"].startswith("discord.") for e in job_lines)
        assert any(e["logger"].startswith("openai") for e in job_lines)
    # Lines outside any job (start-up, the gateway) carry no job.
    assert any("job" not in e for e in lines if e["logger"] == "discord.gateway")
