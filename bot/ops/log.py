"""Logging set-up: one handler of our own, noisy libraries turned down, secrets scrubbed.

Every record that reaches the bot's handler is scrubbed twice: a filter rewrites the record itself
(message with its args, exception text, stack text) and the handler's formatter scrubs the final line,
so nothing a logger or a formatter adds can carry a secret past it.

With ``fmt="json"`` each record is one JSON object per line; a filter stamps every record logged while a job
runs with that job's turn and interaction ids (``bot.core.observe.current_job``), in both formats' records.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote

from bot.core.observe import current_job

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
NOISY_LOGGERS = ("discord.http", "discord.gateway", "discord.webhook", "httpx2", "openai", "aiosqlite")
REDACTED = "[redacted]"

# Interaction tokens travel in webhook and callback URLs, which discord.py logs at DEBUG:
# /webhooks/<id>/<token>[/messages/...] and /interactions/<id>/<token>/callback.
_URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)([^/\s?#'\"\\<>]+)")
# A secret-looking key with a quoted value, in JSON, a Python repr, or JSON escaped inside a string:
# 'token': 'x'   "token": "x"   \"webhook_token\":\"x\"   'Authorization': 'Bot x'   "api-key": "x"
_QUOTED_FIELD = re.compile(
    r"""(?P<key>(?P<q>\\?["'])[\w.-]*(?:token|secret|password|api[-_]?key|authorization)(?P=q)\s*[:=]\s*)"""
    r"""(?P<vq>\\?["'])(?P<value>.*?)(?<!\\)(?P=vq)""",
    re.IGNORECASE,
)
# The same keys unquoted: query strings, env-style text, header lines (token=x, api_key: x, Authorization: Bot x).
_BARE_FIELD = re.compile(
    r"(?P<key>\b[\w-]*(?:token|secret|password|api[-_]?key)\s*=\s*|\bauthorization\s*[:=]\s*(?:(?:Bot|Bearer|Basic)\s+)?)"
    r"(?P<value>[^\s&'\",;)}\]\\]+)",
    re.IGNORECASE,
)
# Header values wherever they appear, even without the header name.
_AUTH_SCHEME = re.compile(r"\b(Bot|Bearer)\s+([A-Za-z0-9_\-.~+/]{16,}=*)")
# Token shapes, in case one shows up with no context at all.
_SHAPES = (
    re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b"),  # Discord bot token
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),  # OpenAI API key
    re.compile(r"\baW50ZXJhY3Rpb246[A-Za-z0-9_\-+/=]+"),  # Discord interaction token: base64 of "interaction:"
)
# Token-like runs; a run equal to a token seen earlier in a payload or URL is scrubbed wherever it turns up.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")
_MIN_SECRET = 6  # shorter strings would redact ordinary words
_LEARNED_MAX = 4096  # interaction tokens live 15 minutes; this covers far more than a busy bot sees


class RedactingFilter(logging.Filter):
    """Replace known secrets, interaction tokens and credential-looking values in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= _MIN_SECRET:
                self._secrets.update({secret, quote(secret, safe="")})
        self._learned: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()  # handlers call filters outside their lock; aiosqlite logs from a thread

    def add(self, secret: str) -> None:
        """Also redact this secret from now on (a server's own OpenAI key, once the bot has read it)."""
        if secret and len(secret) >= _MIN_SECRET:
            # A new set rather than an update: scrub may be iterating the old one in another thread.
            self._secrets = self._secrets | {secret, quote(secret, safe="")}

    def scrub(self, text: str) -> str:
        """Return ``text`` with every secret this filter knows or recognises replaced."""
        text = _URL_TOKEN.sub(self._url_token, text)
        text = _QUOTED_FIELD.sub(self._quoted_field, text)
        text = _BARE_FIELD.sub(self._bare_field, text)
        text = _AUTH_SCHEME.sub(self._auth_scheme, text)
        for shape in _SHAPES:
            text = shape.sub(self._shape, text)
        if self._learned:
            text = _TOKEN_RUN.sub(self._learned_run, text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep what was passed, but never unscrubbed
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True

    # -- substitutions ---------------------------------------------------------------------------

    def _learn(self, value: str) -> None:
        if not _TOKEN_RUN.fullmatch(value):
            return
        with self._lock:
            self._learned[value] = None
            self._learned.move_to_end(value)
            while len(self._learned) > _LEARNED_MAX:
                self._learned.popitem(last=False)

    def _learned_run(self, match: re.Match[str]) -> str:
        return REDACTED if match.group(0) in self._learned else match.group(0)

    def _url_token(self, match: re.Match[str]) -> str:
        if match.group(2) in ("[token]", REDACTED):
            return match.group(0)
        self._learn(match.group(2))
        return f"{match.group(1)}[token]"

    def _quoted_field(self, match: re.Match[str]) -> str:
        value = match.group("value")
        if not value or value == REDACTED or value == "[token]":
            return match.group(0)
        self._learn(value)
        return f"{match.group('key')}{match.group('vq')}{REDACTED}{match.group('vq')}"

    def _bare_field(self, match: re.Match[str]) -> str:
        value = match.group("value")
        if value.startswith("[") or value in ("None", "null"):
            return match.group(0)
        self._learn(value)
        return f"{match.group('key')}{REDACTED}"

    def _auth_scheme(self, match: re.Match[str]) -> str:
        self._learn(match.group(2))
        return f"{match.group(1)} {REDACTED}"

    def _shape(self, match: re.Match[str]) -> str:
        self._learn(match.group(0))
        return REDACTED


class RedactingFormatter(logging.Formatter):
    """Scrubs the finished line too: whatever the record carried, the output is clean."""

    def __init__(self, redactor: RedactingFilter, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.scrub(super().format(record))


class JobContextFilter(logging.Filter):
    """Stamp records with the job they were logged in (``record.job``, ``record.interaction``), if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        tag = current_job.get()
        if not hasattr(record, "job"):
            record.job = tag.turn_id if tag else None
        if not hasattr(record, "interaction"):
            record.interaction = tag.interaction_id if tag else None
        return True


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time, level, logger, message, job/interaction when known, exception, stack."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor.scrub(record.getMessage()),
        }
        for key in ("job", "interaction"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = self.redactor.scrub(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redactor.scrub(record.stack_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        # Scrub the finished line as well, like the text format; keep it only if it is still one JSON object.
        scrubbed = self.redactor.scrub(line)
        if scrubbed != line:
            try:
                json.loads(scrubbed)
            except ValueError:
                return line
        return scrubbed


class BotLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``setup_logging`` installs; a later call replaces it and leaves others alone."""

    def __init__(self, stream: IO[str], secrets: Iterable[str], fmt: str = "text") -> None:
        super().__init__(stream)
        self.redactor = RedactingFilter(secrets)
        self.addFilter(self.redactor)
        self.addFilter(JobContextFilter())
        formatter = JsonFormatter if fmt == "json" else RedactingFormatter
        self.setFormatter(formatter(self.redactor))


def setup_logging(
    level: str, secrets: Iterable[str] = (), stream: IO[str] | None = None, *, fmt: str = "text"
) -> BotLogHandler:
    """Install (or replace) the bot's handler on the root logger and set the levels.

    ``fmt`` is ``text`` (one readable line per record) or ``json`` (one JSON object per line).

    Handlers that others put on the root logger (pytest's capture, for one) are left in place.
    Noisy libraries stay at WARNING unless ``level`` is DEBUG.
    """
    level = level.upper()
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, BotLogHandler)]:
        root.removeHandler(old)
        old.close()
    handler = BotLogHandler(sys.stdout if stream is None else stream, secrets, fmt)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in NOISY_LOGGERS:
        logger = logging.getLogger(noisy)
        logger.setLevel(logging.NOTSET if level == "DEBUG" else max(logging.WARNING, root.level))
    return handler


def redact_also(secret: str) -> None:
    """Teach every installed bot handler one more secret (secrets learnt while running, like servers' keys)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BotLogHandler):
            handler.redactor.add(secret)
