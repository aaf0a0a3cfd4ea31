"""`python -m bot check`: can this configuration work? One line per check, exit 0 or 1."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import aiohttp
import openai

from bot.app import build_openai_client
from bot.settings import Settings
from bot.storage import open_store

WARN_WITHIN = datetime.timedelta(days=30)


@dataclass
class CheckResult:
    name: str
    ok: bool
    message: str
    warning: bool = False

    def line(self) -> str:
        mark = "WARN" if self.warning else ("ok" if self.ok else "FAIL")
        return f"[{mark:>4}] {self.name}: {self.message}"


async def check_database(settings: Settings) -> CheckResult:
    try:
        store = await open_store(settings.database_path)
        await store.close()
    except Exception as exc:
        return CheckResult("database", False, f"{settings.database_path}: {exc}")
    return CheckResult("database", True, f"{settings.database_path} is writable and migrated")


async def check_discord(settings: Settings) -> CheckResult:
    headers = {"Authorization": f"Bot {settings.discord_token.get()}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{settings.discord_api_base_url}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return CheckResult("discord", False, "DISCORD_TOKEN was rejected (401)")
            response.raise_for_status()
            user = await response.json()
    except aiohttp.ClientError as exc:
        return CheckResult("discord", False, f"cannot reach {settings.discord_api_base_url}: {exc}")
    return CheckResult("discord", True, f"logged in as {user.get('username')} ({user.get('id')})")


async def check_model(client: openai.AsyncOpenAI, setting: str, model: str) -> CheckResult:
    try:
        info = await client.models.retrieve(model)
    except openai.NotFoundError:
        return CheckResult(setting, False, f"model {model!r} does not exist or this key can't use it")
    except openai.AuthenticationError:
        return CheckResult(setting, False, "OPENAI_API_KEY was rejected (401)")
    except openai.APIError as exc:
        return CheckResult(setting, False, f"cannot reach OpenAI: {exc}")
    shutdown = (info.model_extra or {}).get("shutdown_date")
    if shutdown:
        when = _parse_date(shutdown)
        if when is not None and when - datetime.datetime.now(datetime.UTC) <= WARN_WITHIN:
            return CheckResult(setting, True, f"{model} shuts down on {when.date()}; choose another", warning=True)
    return CheckResult(setting, True, f"{model} is available")


def _parse_date(value: object) -> datetime.datetime | None:
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


async def collect_checks(settings: Settings, client: openai.AsyncOpenAI) -> list[CheckResult]:
    results = [await check_database(settings), await check_discord(settings)]
    results.append(await check_model(client, "OPENAI_MODEL", settings.openai_model))
    if settings.image_model:
        results.append(await check_model(client, "IMAGE_MODEL", settings.image_model))
    return results


async def run_checks(settings: Settings) -> int:
    client = build_openai_client(settings)
    try:
        results = await collect_checks(settings, client)
    finally:
        await client.close()
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1
