"""What a start-up loads: libraries only some installs use stay out of memory until they are used.

asyncpg (PostgreSQL), cryptography (servers' own keys) and matplotlib (the bench's chart) cost 10-40 MB each; the
bench measures the bot's memory in its own process, so its chart library must not be loaded before the runs.
"""

from __future__ import annotations

import subprocess
import sys

OPTIONAL = ("asyncpg", "cryptography", "matplotlib")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_bot_and_the_bench_load_no_optional_library_at_import() -> None:
    loaded = _loaded_after("import bot.app, bot.__main__, bench.__main__, bench.runner")
    assert loaded.isdisjoint(OPTIONAL), sorted(loaded & set(OPTIONAL))
    assert "discord" in loaded and "openai" in loaded  # the probe does see imports


def test_postgres_store_is_still_reachable_from_the_package() -> None:
    loaded = _loaded_after("from bot.storage import PostgresStore\nassert PostgresStore.__name__ == 'PostgresStore'")
    assert "asyncpg" in loaded
