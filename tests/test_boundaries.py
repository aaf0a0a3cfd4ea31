"""Architecture rules: the core knows nothing of Discord or databases; SQL lives only in storage."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_discord_or_database() -> None:
    for path in (ROOT / "bot" / "core").rglob("*.py"):
        banned = imported_modules(path) & {"discord", "aiosqlite", "asyncpg", "sqlite3", "bot.storage"}
        assert not banned, f"{path.relative_to(ROOT)} imports {banned}"


def test_no_sql_outside_storage() -> None:
    sql = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            if "storage" in path.parts:
                continue
            assert not sql.search(path.read_text()), f"SQL in {path.relative_to(ROOT)}"


def test_every_extension_loads_a_setup() -> None:
    import importlib

    from bot.app import EXTENSIONS

    for name in EXTENSIONS:
        module = importlib.import_module(name)
        assert callable(module.setup)
