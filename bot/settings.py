"""Typed settings read once from the environment (and `.env`), with one-line errors."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_DISCORD_API = "https://discord.com/api/v10"
DEFAULT_DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_URL = "sqlite:///data/threadpaint.db"
# Next to the default database, so Docker keeps it on the same volume; `python -m bot health` reads it.
DEFAULT_HEALTH_FILE = "data/threadpaint.health"
# Inexpensive current mainline model that supports the image_generation tool; see README "Models".
DEFAULT_OPENAI_MODEL = "gpt-5.4-mini"
# Money is safe by default (README "Budgets"): the whole bot may spend $5 a day and $50 a month, one member $1 a
# day and $10 a month, until the owner sets other amounts (or `unlimited`).
DEFAULT_BOT_DAILY = 5_000_000
DEFAULT_BOT_MONTHLY = 50_000_000
DEFAULT_USER_DAILY = 1_000_000
DEFAULT_USER_MONTHLY = 10_000_000
DEFAULT_JOB_DEADLINE = 600.0


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and fits on one line.

    Values are echoed (quoted) to help fix them, so a password inside one is masked here, for every setting.
    """

    def __init__(self, message: str) -> None:
        super().__init__(_QUOTED.sub(lambda quoted: redact_credentials(quoted.group()), message))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# "user:password@" in a URL, well-formed or not ("scheme://" is not a user and a password).
_CREDENTIALS = re.compile(r"(?<![^\s'\"/])([^\s'\"@:/]+):(?!//)[^\s'\"@]*@")


def redact_credentials(text: str) -> str:
    return _CREDENTIALS.sub(r"\1:***@", text)


class Secret:
    """A string that never shows itself in repr/str, so it cannot leak into logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    discord_token: Secret
    openai_api_key: Secret
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    discord_api_base_url: str = DEFAULT_DISCORD_API
    discord_gateway_url: str = DEFAULT_DISCORD_GATEWAY
    database_url: str = DEFAULT_DATABASE_URL
    openai_model: str = DEFAULT_OPENAI_MODEL
    image_model: str | None = None
    # Image-model capabilities (see bot.core.capabilities); "default" stands for OpenAI's default image model.
    any_size_models: tuple[str, ...] = ("default", "gpt-image-2")
    fidelity_models: tuple[str, ...] = ("gpt-image-1.5",)
    partial_images: int = 2
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    preview_interval: float = 1.0
    openai_timeout: float = 300.0
    stream_idle_timeout: float = 120.0
    retry_attempts: int = 3
    retry_base_delay: float = 1.0
    shutdown_grace: float = 8.0
    max_concurrent_jobs: int = 8
    max_jobs_per_user: int = 2
    retention_days: int = 30
    # Budgets in micro-dollars; None means no limit.
    budget_user_daily: int | None = DEFAULT_USER_DAILY
    budget_user_monthly: int | None = DEFAULT_USER_MONTHLY
    budget_guild_daily: int | None = None
    budget_guild_monthly: int | None = None
    budget_bot_daily: int | None = DEFAULT_BOT_DAILY
    budget_bot_monthly: int | None = DEFAULT_BOT_MONTHLY
    allowed_guilds: frozenset[int] | None = None  # None: any server may use the bot
    leave_unlisted_guilds: bool = False
    allow_dms: bool = True
    allow_low_moderation: bool = False
    # A Fernet key (32 bytes, URL-safe base64) encrypting servers' own OpenAI keys; None: servers can't set one.
    server_keys_secret: Secret | None = None
    server_key_fallback: bool = True  # a server that removed its own key goes back to the owner's
    job_deadline: float = DEFAULT_JOB_DEADLINE
    prices_file: str | None = None
    log_format: str = "text"
    metrics_port: int | None = None  # None: no metrics server
    metrics_host: str = "127.0.0.1"  # local unless the owner opens it (METRICS_HOST=0.0.0.0 in a container)
    shard_count: int | None = None  # None: Discord's recommended count (GET /gateway/bot)
    shard_ids: tuple[int, ...] | None = None  # None: all shards of shard_count run in this process
    health_file: Path = Path(DEFAULT_HEALTH_FILE)
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def database_path(self) -> Path:
        return sqlite_path(self.database_url)

    @property
    def database_password(self) -> str | None:
        """The password inside a PostgreSQL DATABASE_URL, so logs can scrub it like the tokens."""
        try:
            return urlsplit(self.database_url).password
        except ValueError:
            return None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a mapping (os.environ after load_dotenv); raise ConfigError on the first problem."""

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        def required(name: str) -> str:
            value = get(name)
            if value is None:
                raise ConfigError(f"{name} is required but not set (see .env.example)")
            return value

        return cls(
            discord_token=Secret(required("DISCORD_TOKEN")),
            openai_api_key=Secret(required("OPENAI_API_KEY")),
            openai_base_url=_url(
                get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL, "OPENAI_BASE_URL", ("http", "https")
            ),
            discord_api_base_url=_url(
                get("DISCORD_API_BASE_URL") or DEFAULT_DISCORD_API, "DISCORD_API_BASE_URL", ("http", "https")
            ).rstrip("/"),
            discord_gateway_url=_url(
                get("DISCORD_GATEWAY_URL") or DEFAULT_DISCORD_GATEWAY, "DISCORD_GATEWAY_URL", ("ws", "wss")
            ),
            database_url=_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            openai_model=get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL,
            image_model=get("IMAGE_MODEL"),
            any_size_models=_names(get("IMAGE_ANY_SIZE_MODELS"), ("default", "gpt-image-2")),
            fidelity_models=_names(get("IMAGE_FIDELITY_MODELS"), ("gpt-image-1.5",)),
            partial_images=_int(get("PARTIAL_IMAGES"), "PARTIAL_IMAGES", 2, low=0, high=3),
            dev_guild_id=_snowflake(get("DEV_GUILD_ID"), "DEV_GUILD_ID"),
            log_level=_log_level(get("LOG_LEVEL") or "INFO"),
            preview_interval=_float(get("PREVIEW_INTERVAL"), "PREVIEW_INTERVAL", 1.0, low=0.0, high=60.0),
            openai_timeout=_float(get("OPENAI_TIMEOUT"), "OPENAI_TIMEOUT", 300.0, low=1.0, high=3600.0),
            stream_idle_timeout=_float(
                get("STREAM_IDLE_TIMEOUT"), "STREAM_IDLE_TIMEOUT", 120.0, low=0.1, high=3600.0
            ),
            retry_attempts=_int(get("RETRY_ATTEMPTS"), "RETRY_ATTEMPTS", 3, low=1, high=10),
            retry_base_delay=_float(get("RETRY_BASE_DELAY"), "RETRY_BASE_DELAY", 1.0, low=0.0, high=60.0),
            # Docker sends SIGKILL 10 s after SIGTERM; leave time to mark jobs and close the database.
            shutdown_grace=_float(get("SHUTDOWN_GRACE"), "SHUTDOWN_GRACE", 8.0, low=0.0, high=600.0),
            max_concurrent_jobs=_int(get("MAX_CONCURRENT_JOBS"), "MAX_CONCURRENT_JOBS", 8, low=1, high=1000),
            max_jobs_per_user=_int(get("MAX_JOBS_PER_USER"), "MAX_JOBS_PER_USER", 2, low=1, high=100),
            retention_days=_int(get("RETENTION_DAYS"), "RETENTION_DAYS", 30, low=1, high=3650),
            budget_user_daily=_dollars(get("BUDGET_USER_DAILY_USD"), "BUDGET_USER_DAILY_USD", DEFAULT_USER_DAILY),
            budget_user_monthly=_dollars(
                get("BUDGET_USER_MONTHLY_USD"), "BUDGET_USER_MONTHLY_USD", DEFAULT_USER_MONTHLY
            ),
            budget_guild_daily=_dollars(get("BUDGET_SERVER_DAILY_USD"), "BUDGET_SERVER_DAILY_USD", None),
            budget_guild_monthly=_dollars(get("BUDGET_SERVER_MONTHLY_USD"), "BUDGET_SERVER_MONTHLY_USD", None),
            budget_bot_daily=_dollars(get("BUDGET_BOT_DAILY_USD"), "BUDGET_BOT_DAILY_USD", DEFAULT_BOT_DAILY),
            budget_bot_monthly=_dollars(get("BUDGET_BOT_MONTHLY_USD"), "BUDGET_BOT_MONTHLY_USD", DEFAULT_BOT_MONTHLY),
            allowed_guilds=_snowflakes(get("ALLOWED_GUILDS"), "ALLOWED_GUILDS"),
            leave_unlisted_guilds=_bool(get("LEAVE_UNLISTED_GUILDS"), "LEAVE_UNLISTED_GUILDS", False),
            allow_dms=_bool(get("ALLOW_DMS"), "ALLOW_DMS", True),
            allow_low_moderation=_bool(get("ALLOW_LOW_MODERATION"), "ALLOW_LOW_MODERATION", False),
            server_keys_secret=_fernet_key(get("SERVER_KEYS_SECRET")),
            server_key_fallback=_bool(get("SERVER_KEY_FALLBACK"), "SERVER_KEY_FALLBACK", True),
            job_deadline=_float(get("JOB_DEADLINE"), "JOB_DEADLINE", DEFAULT_JOB_DEADLINE, low=0.1, high=86400.0),
            prices_file=get("PRICES_FILE"),
            log_format=_log_format(get("LOG_FORMAT") or "text"),
            metrics_port=_optional_int(get("METRICS_PORT"), "METRICS_PORT", low=1, high=65535),
            metrics_host=get("METRICS_HOST") or "127.0.0.1",
            **_shards(get("SHARD_COUNT"), get("SHARD_IDS")),
            health_file=Path(get("HEALTH_FILE") or DEFAULT_HEALTH_FILE),
        )


def load_environment(env_file: Path, environ: MutableMapping[str, str] | None = None) -> None:
    """Merge `env_file` into the environment (the environment wins), then drop every empty variable.

    An empty value means "unset" everywhere: `.env.example` ships `OPENAI_BASE_URL=` and the like, and libraries
    that read the environment themselves (the OpenAI SDK takes an empty OPENAI_BASE_URL as the base URL '') must
    see them as absent, exactly as this module's own parsing does.
    """
    target = os.environ if environ is None else environ
    if env_file.is_file():
        for name, value in dotenv_values(env_file).items():
            if value and value.strip() and not (target.get(name) or "").strip():
                target[name] = value
    for name in [name for name, value in target.items() if not value.strip()]:
        del target[name]


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path.db` is relative to the working directory, `sqlite:////abs/path.db` is absolute."""
    return Path(url.removeprefix("sqlite:///"))


def _database_url(value: str) -> str:
    if value.startswith(("postgresql://", "postgres://")):
        return value
    if not value.startswith("sqlite:///") or value == "sqlite:///":
        raise ConfigError(
            "DATABASE_URL must look like sqlite:///data/threadpaint.db, sqlite:////abs/path.db or "
            f"postgresql://user:password@host/db, got {value!r}"
        )
    return value


def _url(value: str, name: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{name} must be a URL starting with {allowed}, got {value!r}")
    return value


def _int(value: str | None, name: str, default: int, *, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
    return number


def _optional_int(value: str | None, name: str, *, low: int, high: int) -> int | None:
    return None if value is None else _int(value, name, low, low=low, high=high)


def _float(value: str | None, name: str, default: float, *, low: float, high: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low:g} to {high:g}, got {number:g}")
    return number


def _dollars(value: str | None, name: str, default: int | None) -> int | None:
    """Dollars as exact micro-dollars; unset means the default, `unlimited` means no limit."""
    if value is None:
        return default
    if value.lower() == "unlimited":
        return None
    try:
        amount = Decimal(value.removeprefix("$"))
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount in dollars like 5 or 2.50, or unlimited, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{name} must be zero or more dollars, got {value!r}")
    return int(amount * 1_000_000)


def _snowflake(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"{name} must be a Discord id (digits only), got {value!r}")
    return int(value)


def _snowflakes(value: str | None, name: str) -> frozenset[int] | None:
    if value is None:
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        return None
    bad = next((part for part in ids if not part.isdigit() or int(part) <= 0), None)
    if bad is not None:
        raise ConfigError(f"{name} must be Discord server ids separated by commas, got {bad!r}")
    return frozenset(int(part) for part in ids)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _fernet_key(value: str | None) -> Secret | None:
    """SERVER_KEYS_SECRET: what cryptography's Fernet.generate_key() prints. The value is never echoed."""
    if value is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            "SERVER_KEYS_SECRET must be a Fernet key (32 bytes, URL-safe base64); make one with: python -c "
            "\"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
        )
    return Secret(value)


def _bool(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {value!r}")
    return level


def _shards(count_text: str | None, ids_text: str | None) -> dict[str, Any]:
    """SHARD_COUNT alone runs every shard here; SHARD_IDS picks this process's share, like `0-3` or `0,2,4`."""
    count = _optional_int(count_text, "SHARD_COUNT", low=1, high=100_000)
    if ids_text is None:
        return {"shard_count": count, "shard_ids": None}
    if count is None:
        raise ConfigError("SHARD_IDS needs SHARD_COUNT (the total number of shards across all processes)")
    ids: list[int] = []
    for part in ids_text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ConfigError(f"SHARD_IDS must be shard numbers like 0-3 or 0,2,4, got {ids_text!r}") from None
        if not 0 <= first <= last < count:
            raise ConfigError(f"SHARD_IDS must be between 0 and {count - 1} (SHARD_COUNT - 1), got {part.strip()!r}")
        ids.extend(range(first, last + 1))
    if len(set(ids)) != len(ids):
        raise ConfigError(f"SHARD_IDS lists a shard twice: {ids_text!r}")
    return {"shard_count": count, "shard_ids": tuple(sorted(ids))}


def _names(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of model names; `none` for an empty list."""
    if value is None:
        return default
    if value.lower() == "none":
        return ()
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _log_format(value: str) -> str:
    fmt = value.lower()
    if fmt not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, got {value!r}")
    return fmt
