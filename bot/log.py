"""Logging set-up: one stdout handler, noisy libraries turned down, secrets scrubbed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Interaction tokens travel in webhook URLs; discord.py logs those URLs at DEBUG.
_WEBHOOK_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.\-]{20,}")


class RedactingFilter(logging.Filter):
    """Replace known secrets and interaction tokens in every record before it is written."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _WEBHOOK_TOKEN.sub(r"\1[token]", message)
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "[redacted]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level != "DEBUG":
        for noisy in ("discord.http", "discord.gateway", "httpx2", "openai"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
