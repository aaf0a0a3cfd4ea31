"""`python -m bot check`: can this configuration work? One line per check, exit 0 or 1.

`model_warnings` is the same model check for the bot's start-up, where problems are only logged.
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import sqlite3
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

import aiohttp
import aiosqlite
import openai

from bot.core.costs import format_usd
from bot.core.reasons import connection_reason
from bot.openai_adapter.client import build_openai_client
from bot.settings import Settings
from bot.storage import migrate as migrations
from bot.storage import open_store
from bot.storage.base import private_database_file

WARN_WITHIN = datetime.timedelta(days=30)
# A check should answer quickly; the bot's own OpenAI timeout (minutes, for image generation) is far too long.
CHECK_TIMEOUT = 15.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    message: str
    warning: bool = False

    def line(self) -> str:
        mark = "WARN" if self.warning else ("ok" if self.ok else "FAIL")
        return f"[{mark:>4}] {self.name}: {self.message}"


# --------------------------------------------------------------------------- database


async def check_database(settings: Settings) -> CheckResult:
    """Open the store as the bot does (creating the configured folder, migrating), then prove it is writable."""
    if settings.database_url.startswith(("postgresql://", "postgres://")):
        from bot.storage.postgres_check import check_postgres  # asyncpg only where it is used

        return CheckResult("database", *await check_postgres(settings.database_url))
    path = settings.database_path
    if str(path) == ":memory:":
        return CheckResult("database", True, "in-memory database: nothing survives a restart", warning=True)
    shown = path.absolute()  # a relative DATABASE_URL is relative to the working directory: say where
    try:
        private_database_file(path)
    except OSError as exc:
        return CheckResult("database", False, f"cannot create folder {path.parent.absolute()}: {_os_reason(exc)}")
    try:
        store = await open_store(path)
        await store.close()
        known = migrations.load_migrations()
        latest = known[-1].version if known else 0
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            version = await migrations.current_version(conn)
            if version != latest:
                return CheckResult("database", False, f"{shown} is at schema v{version}, expected v{latest}")
            # A real write to the main database (a TEMP table would not touch the file), then undo it.
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute("CREATE TABLE threadpaint_write_check (x INTEGER)")
            finally:
                await conn.rollback()
    except (OSError, sqlite3.Error) as exc:
        return CheckResult("database", False, f"{shown}: {_os_reason(exc) if isinstance(exc, OSError) else exc}")
    except RuntimeError as exc:  # migrate(): schema newer than this bot, or broken migration files
        return CheckResult("database", False, f"{shown}: {exc}")
    return CheckResult("database", True, f"{shown} is writable, schema v{version} (latest)")


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --------------------------------------------------------------------------- discord


async def check_discord(settings: Settings) -> CheckResult:
    base = settings.discord_api_base_url
    headers = {"Authorization": f"Bot {settings.discord_token.get()}"}
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return CheckResult(
                    "discord", False, "DISCORD_TOKEN was rejected (401); copy the bot token again from the portal"
                )
            if response.status != 200:
                return CheckResult("discord", False, f"GET {base}/users/@me answered HTTP {response.status}")
            user = await response.json()
    except aiohttp.ClientConnectorError as exc:
        return CheckResult("discord", False, f"cannot connect to {base}: {_connect_reason(exc.os_error)}")
    except TimeoutError:
        return CheckResult("discord", False, f"no answer from {base} within {CHECK_TIMEOUT:g} s")
    except aiohttp.ClientError as exc:
        return CheckResult("discord", False, f"cannot talk to {base}: {type(exc).__name__}: {exc}")
    if not isinstance(user, dict):
        return CheckResult("discord", False, f"GET {base}/users/@me did not return a user")
    return CheckResult("discord", True, f"logged in as {user.get('username')} ({user.get('id')})")


def _connect_reason(error: OSError) -> str:
    if error.errno == errno.ECONNREFUSED:
        return "connection refused (nothing is listening there)"
    return connection_reason(error).lower()


# --------------------------------------------------------------------------- openai models


async def check_model(
    client: openai.AsyncOpenAI, setting: str, model: str, *, now: datetime.datetime | None = None
) -> CheckResult:
    """GET /v1/models/{model}: FAIL when missing or already shut down, WARN when it shuts down within 30 days."""
    try:
        info = await client.with_options(timeout=CHECK_TIMEOUT).models.retrieve(model)
    except openai.NotFoundError:
        return CheckResult(setting, False, f"model {model!r} does not exist or this key can't use it")
    except openai.AuthenticationError:
        return CheckResult(setting, False, "OPENAI_API_KEY was rejected (401)")
    except openai.PermissionDeniedError:
        return CheckResult(setting, False, f"this OPENAI_API_KEY may not use model {model!r} (403)")
    except openai.APITimeoutError:
        return CheckResult(setting, False, f"no answer from OpenAI within {CHECK_TIMEOUT:g} s")
    except openai.APIConnectionError:
        return CheckResult(setting, False, f"cannot reach OpenAI at {client.base_url}")
    except openai.APIStatusError as exc:
        return CheckResult(setting, False, f"GET /models/{model} answered HTTP {exc.status_code}")
    except openai.APIError as exc:
        return CheckResult(setting, False, f"unexpected answer from OpenAI: {type(exc).__name__}")
    raw = getattr(info, "shutdown_date", None)
    if raw is None:  # older SDKs without the field keep it in model_extra
        raw = (info.model_extra or {}).get("shutdown_date")
    if raw is None or raw == "":
        return CheckResult(setting, True, f"{model} is available")
    when = parse_shutdown_date(raw)
    if when is None:
        return CheckResult(setting, True, f"{model} is available; unreadable shutdown_date {raw!r}", warning=True)
    now = now or datetime.datetime.now(datetime.UTC)
    day = when.date().isoformat()
    if when <= now:
        return CheckResult(setting, False, f"{model} was shut down on {day}; choose another model")
    left = when - now
    if left <= WARN_WITHIN:
        return CheckResult(
            setting, True, f"{model} shuts down on {day} (in {left.days} days); choose another model", warning=True
        )
    return CheckResult(setting, True, f"{model} is available (shuts down on {day})")


def parse_shutdown_date(value: object) -> datetime.datetime | None:
    """`shutdown_date` is an ISO date string in the spec ("2026-10-23"); also accept unix seconds and datetimes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, int | float):
        try:
            return datetime.datetime.fromtimestamp(value, datetime.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


def _model_settings(settings: Settings) -> list[tuple[str, str]]:
    models = [("OPENAI_MODEL", settings.openai_model)]
    if settings.image_model:
        models.append(("IMAGE_MODEL", settings.image_model))
    return models


async def model_warnings(settings: Settings, client: openai.AsyncOpenAI) -> list[str]:
    """Start-up check of the configured models: one line per missing, retiring or unverifiable model.

    Never raises (except on cancellation): an unreachable OpenAI yields a line saying the model could not
    be checked. An empty list means every configured model exists and is not retiring within 30 days.
    """
    lines = []
    for setting, model in _model_settings(settings):
        try:
            result = await check_model(client, setting, model)
        except Exception as exc:
            result = CheckResult(setting, False, f"could not check {model!r}: {type(exc).__name__}")
        if not result.ok or result.warning:
            lines.append(_redact(f"{result.name}: {result.message}", _secrets(settings)))
    return lines


# --------------------------------------------------------------------------- money


def check_money(settings: Settings) -> CheckResult:
    """The spending caps in force; a warning when the owner has made the bot's spending unlimited."""
    def cap(micros: int | None) -> str:
        return "unlimited" if micros is None else format_usd(micros)

    caps = (
        f"whole bot {cap(settings.budget_bot_daily)} a day and {cap(settings.budget_bot_monthly)} a month; "
        f"each member {cap(settings.budget_user_daily)} a day and {cap(settings.budget_user_monthly)} a month"
    )
    servers = "any server" if settings.allowed_guilds is None else f"{len(settings.allowed_guilds)} allowed servers"
    unlimited = [
        name for name, value in (("BUDGET_BOT_DAILY_USD", settings.budget_bot_daily),
                                 ("BUDGET_BOT_MONTHLY_USD", settings.budget_bot_monthly)) if value is None
    ]
    if unlimited:
        return CheckResult(
            "money", True,
            f"{caps}; {' and '.join(unlimited)} unlimited: anyone who can reach the bot can spend without limit "
            f"({servers})",
            warning=True,
        )
    return CheckResult("money", True, f"{caps}; {servers}")


# --------------------------------------------------------------------------- report


async def collect_checks(settings: Settings, client: openai.AsyncOpenAI) -> list[CheckResult]:
    checks: list[tuple[str, Awaitable[CheckResult]]] = [
        ("database", check_database(settings)),
        ("discord", check_discord(settings)),
    ]
    checks += [(setting, check_model(client, setting, model)) for setting, model in _model_settings(settings)]
    return [check_money(settings), *await asyncio.gather(*(_guard(name, check) for name, check in checks))]


async def _guard(name: str, check: Awaitable[CheckResult]) -> CheckResult:
    """A bug in one check becomes its FAIL line, not a traceback that hides the other results."""
    try:
        return await check
    except Exception as exc:
        return CheckResult(name, False, f"check crashed: {type(exc).__name__}: {exc}")


def _secrets(settings: Settings) -> list[str]:
    return [settings.discord_token.get(), settings.openai_api_key.get()]


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    return text


async def run_checks(settings: Settings) -> int:
    client = build_openai_client(settings)
    try:
        results = await collect_checks(settings, client)
    finally:
        await client.close()
    for result in results:
        print(_redact(result.line(), _secrets(settings)))
    return 0 if all(r.ok for r in results) else 1
