"""Operations through the running bot: what it leaves on disk is readable by its own user only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.openai_adapter.image_events import IMAGE_STREAM_EVENTS
from tests.harness import Harness


async def test_running_bot_keeps_its_database_private(harness: Harness) -> None:
    folder = harness.tmp_path / "data"
    running = await harness.start_bot(DATABASE_URL=f"sqlite:///{folder / 'threadpaint.db'}")
    draw = await harness.command(running, "draw", {"prompt": "a lighthouse"})
    assert harness.discord.messages[draw.original_message_id].attachments  # prompts and images were written
    assert folder.stat().st_mode & 0o777 == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert "threadpaint.db" in files and "threadpaint.db-wal" in files
    assert "threadpaint.db-images" in files  # the outbox's images, between generation and posting
    for path in [*folder.iterdir(), *(folder / "threadpaint.db-images").iterdir()]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path.name


async def test_the_sdks_responses_resource_is_loaded_while_starting_not_on_the_first_draw(harness: Harness) -> None:
    running = await harness.start_bot()
    # AsyncOpenAI.responses is a cached_property: present in the instance's dict once it was built.
    assert "responses" in vars(running.bot.openai)


async def test_the_stream_event_validators_are_built_while_starting(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    monkeypatch.setattr("bot.app.build_event_validators", lambda: built.append("built"))
    await harness.start_bot()
    assert built == ["built"]


def test_building_the_event_validators_builds_each_stream_event_class_once() -> None:
    # In a fresh process: this one's classes were built by the tests that streamed before.
    probe = (
        "from bot.openai_adapter.image_events import IMAGE_STREAM_EVENTS, _EVENT_CLASSES, build_event_validators\n"
        "classes = [_EVENT_CLASSES[name] for name in IMAGE_STREAM_EVENTS]\n"
        "assert not any(c.__pydantic_complete__ for c in classes)\n"
        "print(build_event_validators(), build_event_validators(), all(c.__pydantic_complete__ for c in classes))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(len(IMAGE_STREAM_EVENTS)), "0", "True"]
