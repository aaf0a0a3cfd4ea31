"""A server's own OpenAI key is redacted from the log the moment the bot sees it, whatever shape it has."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.discord_adapter.server_keys import KeyModal, KeyVault
from bot.ops.log import REDACTED, setup_logging
from tests.bot.ops.test_log import restore_logging  # noqa: F401 - the fixture

# No "sk-" shape, so only what the bot learnt can hide it.
ODD_KEY = "Zq8-project-key-without-the-usual-prefix-41f0c2"


@pytest.fixture
def log_output(restore_logging: None) -> Iterator[io.StringIO]:  # noqa: F811
    stream = io.StringIO()
    setup_logging("INFO", secrets=("sk-test",), stream=stream)
    yield stream


def test_a_key_typed_into_the_modal_is_redacted_before_anything_runs(log_output: io.StringIO) -> None:
    seen: list[str] = []

    async def on_key(_interaction: Any, key: str) -> None:
        logging.getLogger("anything").warning("oops, logged %s", key)
        seen.append(key)

    modal = KeyModal(on_key)
    modal.key._value = f"  {ODD_KEY}\n"  # what Discord filled in
    asyncio.run(modal.on_submit(None))  # type: ignore[arg-type]
    assert seen == [ODD_KEY]
    assert ODD_KEY not in log_output.getvalue() and f"oops, logged {REDACTED}" in log_output.getvalue()


def test_a_key_read_back_from_the_database_is_redacted_too(log_output: io.StringIO) -> None:
    vault = KeyVault(Fernet.generate_key().decode())
    sealed = vault.seal(ODD_KEY)
    assert ODD_KEY not in sealed
    logging.getLogger("before").warning("key %s", ODD_KEY)  # not known yet: this is what the test guards against
    assert ODD_KEY in log_output.getvalue()
    assert vault.open(sealed) == ODD_KEY
    logging.getLogger("after").warning("key %s", ODD_KEY)
    assert log_output.getvalue().splitlines()[-1].endswith(f"key {REDACTED}")
    assert KeyVault(Fernet.generate_key().decode()).open(sealed) is None  # another secret can't read it
