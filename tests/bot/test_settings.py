"""Settings: required values, defaults, one-line errors naming the setting."""

from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, sqlite_path

BASE = {"DISCORD_TOKEN": "discord-token-value", "OPENAI_API_KEY": "sk-test-value"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.database_path == Path("data/threadpaint.db")
    assert settings.partial_images == 2
    assert settings.image_model is None
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.dev_guild_id is None


@pytest.mark.parametrize("missing", ["DISCORD_TOKEN", "OPENAI_API_KEY"])
def test_required(missing: str) -> None:
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env)


def test_blank_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        Settings.from_env({**BASE, "DISCORD_TOKEN": "  "})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PARTIAL_IMAGES", "4"),
        ("PARTIAL_IMAGES", "two"),
        ("DEV_GUILD_ID", "abc"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "sqlite:///"),
        ("DISCORD_API_BASE_URL", "discord.com/api"),
        ("DISCORD_GATEWAY_URL", "https://gateway"),
        ("OPENAI_BASE_URL", "ftp://x"),
        ("LOG_LEVEL", "LOUD"),
        ("PREVIEW_INTERVAL", "-1"),
    ],
)
def test_malformed_value_names_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**BASE, name: value})
    message = str(info.value)
    assert name in message
    assert "\n" not in message


def test_absolute_and_relative_sqlite_paths() -> None:
    assert sqlite_path("sqlite:////srv/tp/bot.db") == Path("/srv/tp/bot.db")
    assert sqlite_path("sqlite:///data/x.db") == Path("data/x.db")


def test_values_parsed() -> None:
    settings = Settings.from_env(
        {**BASE, "PARTIAL_IMAGES": "0", "DEV_GUILD_ID": "123", "IMAGE_MODEL": "gpt-image-2", "LOG_LEVEL": "debug"}
    )
    assert (settings.partial_images, settings.dev_guild_id, settings.image_model) == (0, 123, "gpt-image-2")
    assert settings.log_level == "DEBUG"


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_env(BASE)
    assert "discord-token-value" not in repr(settings)
    assert "sk-test-value" not in repr(settings)
    assert settings.discord_token.get() == "discord-token-value"


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'(?:get|required)\("([A-Z_]+)"\)', (root / "bot" / "settings.py").read_text()))
    example = (root / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert read == documented
    for line in example.splitlines():
        if re.match(r"^[A-Z_]+=", line):
            previous = example.splitlines()[example.splitlines().index(line) - 1]
            assert previous.startswith("# "), f"{line} has no comment above it"
    readme = (root / "README.md").read_text()
    assert {name for name in read if f"| `{name}` |" not in readme} == set()


def test_postgresql_database_url_is_accepted() -> None:
    url = "postgresql://threadpaint:secret@db:5432/threadpaint"
    assert Settings.from_env({**BASE, "DATABASE_URL": url}).database_url == url


def test_shards_default_to_discords_recommendation_in_one_process() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.shard_count, settings.shard_ids) == (None, None)
    assert Settings.from_env({**BASE, "SHARD_COUNT": "4"}).shard_ids is None


@pytest.mark.parametrize(("ids", "expected"), [("0-3", (0, 1, 2, 3)), ("5, 1,7", (1, 5, 7)), ("2-3,6-7", (2, 3, 6, 7))])
def test_shard_ids_are_lists_and_ranges(ids: str, expected: tuple[int, ...]) -> None:
    settings = Settings.from_env({**BASE, "SHARD_COUNT": "8", "SHARD_IDS": ids})
    assert (settings.shard_count, settings.shard_ids) == (8, expected)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be from 1"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "4"}, "between 0 and 3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "between 0 and 3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "a"}, "like 0-3 or 0,2,4"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0-2,2"}, "lists a shard twice"),
    ],
)
def test_bad_shard_settings_get_one_line(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        Settings.from_env({**BASE, **env})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "postgresql:/admin:hunter2@db.example.com/threadpaint"),  # one slash short
    ("DATABASE_URL", "mysql://admin:hunter2@db.example.com/threadpaint"),
    ("DATABASE_URL", "admin:hunter2@db.example.com"),
    ("OPENAI_BASE_URL", "ftp://admin:hunter2@proxy.example.com/v1"),
    ("DISCORD_API_BASE_URL", "discord://admin:hunter2@proxy.example.com"),
])
def test_passwords_never_show_in_setting_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        Settings.from_env({**BASE, name: value})
    assert "hunter2" not in str(raised.value) and ":***@" in str(raised.value)


def test_metrics_listen_on_loopback_unless_set() -> None:
    assert Settings.from_env(BASE).metrics_host == "127.0.0.1"
    assert Settings.from_env({**BASE, "METRICS_HOST": "0.0.0.0"}).metrics_host == "0.0.0.0"  # noqa: S104


def test_the_database_password_is_known_so_logs_can_scrub_it() -> None:
    url = "postgresql://threadpaint:s3cret-pw@db:5432/threadpaint?sslmode=verify-full"
    assert Settings.from_env({**BASE, "DATABASE_URL": url}).database_password == "s3cret-pw"
    assert Settings.from_env(BASE).database_password is None
def test_money_is_safe_by_default() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.budget_bot_daily, settings.budget_bot_monthly) == (5_000_000, 50_000_000)
    assert (settings.budget_user_daily, settings.budget_user_monthly) == (1_000_000, 10_000_000)
    assert (settings.budget_guild_daily, settings.budget_guild_monthly) == (None, None)
    assert settings.allowed_guilds is None and not settings.leave_unlisted_guilds
    assert settings.allow_dms and not settings.allow_low_moderation
    assert settings.job_deadline == 600.0


def test_money_settings_parse() -> None:
    settings = Settings.from_env({
        **BASE, "BUDGET_BOT_DAILY_USD": "unlimited", "BUDGET_BOT_MONTHLY_USD": "$12.50",
        "BUDGET_USER_DAILY_USD": "Unlimited", "ALLOWED_GUILDS": "123, 456,", "LEAVE_UNLISTED_GUILDS": "yes",
        "ALLOW_DMS": "off", "ALLOW_LOW_MODERATION": "TRUE", "JOB_DEADLINE": "90",
    })
    assert (settings.budget_bot_daily, settings.budget_bot_monthly, settings.budget_user_daily) == (
        None, 12_500_000, None)
    assert settings.allowed_guilds == frozenset({123, 456})
    assert settings.leave_unlisted_guilds and not settings.allow_dms and settings.allow_low_moderation
    assert settings.job_deadline == 90.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BUDGET_BOT_DAILY_USD", "lots", "BUDGET_BOT_DAILY_USD must be an amount in dollars like 5 or 2.50, or "
         "unlimited, got 'lots'"),
        ("BUDGET_BOT_MONTHLY_USD", "-1", "BUDGET_BOT_MONTHLY_USD must be zero or more dollars, got '-1'"),
        ("ALLOWED_GUILDS", "123,my-server", "ALLOWED_GUILDS must be Discord server ids separated by commas, got "
         "'my-server'"),
        ("ALLOW_DMS", "maybe", "ALLOW_DMS must be true or false, got 'maybe'"),
        ("LEAVE_UNLISTED_GUILDS", "2", "LEAVE_UNLISTED_GUILDS must be true or false, got '2'"),
        ("ALLOW_LOW_MODERATION", "sure", "ALLOW_LOW_MODERATION must be true or false, got 'sure'"),
        ("JOB_DEADLINE", "0", "JOB_DEADLINE must be from 0.1 to 86400, got 0"),
    ],
)
def test_money_settings_errors_are_one_line(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, name: value})
    assert str(caught.value) == message and "\n" not in message


def test_server_keys_secret_must_be_a_fernet_key() -> None:
    from cryptography.fernet import Fernet

    secret = Fernet.generate_key().decode()
    settings = Settings.from_env({**BASE, "SERVER_KEYS_SECRET": secret, "SERVER_KEY_FALLBACK": "false"})
    assert settings.server_keys_secret is not None and settings.server_keys_secret.get() == secret
    assert settings.server_key_fallback is False
    assert Settings.from_env(BASE).server_keys_secret is None and Settings.from_env(BASE).server_key_fallback
    for bad in ("not-a-key", "c2hvcnQ=", secret[:-4]):
        with pytest.raises(ConfigError, match="SERVER_KEYS_SECRET must be a Fernet key") as caught:
            Settings.from_env({**BASE, "SERVER_KEYS_SECRET": bad})
        assert bad not in str(caught.value)
