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


# Outermost first. A module may import its own package, the packages of lower layers, and the settings (a leaf
# that imports nothing of ours); packages that share a layer are separate outside systems and never import each
# other. The engine imports only itself.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bot.__main__",),  # the entry: the CLI ...
    ("bot.app",),  # ... and the wiring
    ("cogs",),  # thin extensions: commands, views, modals
    ("bot.discord_adapter",),  # the Discord side of a job
    ("bot.ops",),  # logging, metrics and health, memory, `check`
    ("bot.openai_adapter", "bot.storage"),  # one adapter per outside system
    ("bot.core",),  # the engine
)
SETTINGS = "bot.settings"


def project_modules() -> dict[str, Path]:
    modules = {}
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> project modules it imports, counting imports under TYPE_CHECKING and inside functions."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{name}: relative import"
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in modules:
                        targets.add(submodule)
                    elif node.module in modules:
                        targets.add(node.module)
        graph[name] = targets - {name}
    return graph


def package_of(module: str) -> str:
    for layer in LAYERS:
        for package in layer:
            if module == package or module.startswith(package + "."):
                return package
    if module == SETTINGS:
        return SETTINGS
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS (and the README's sketch)")


def layer_index(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        if module in ("bot", "cogs"):
            continue
        source = package_of(module)
        for target in sorted(targets):
            wanted = package_of(target)
            if wanted == source:
                continue
            if wanted == SETTINGS:
                allowed = source != "bot.core"
            elif source == SETTINGS:
                allowed = False
            else:
                allowed = layer_index(wanted) > layer_index(source)
            if not allowed:
                bad.append(f"{module} -> {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


def test_imports_point_inwards() -> None:
    assert layering_violations(import_graph()) == []


def test_the_checks_catch_a_circle_and_an_outward_arrow() -> None:
    graph = import_graph()
    graph["bot.core.models"] = graph["bot.core.models"] | {"bot.core.service"}
    assert any("bot.core.models" in c and "bot.core.service" in c for c in cycles(graph))
    graph = import_graph()
    graph["bot.storage.sqlite"] = graph["bot.storage.sqlite"] | {"bot.openai_adapter.client"}
    graph["bot.discord_adapter.jobs"] = graph["bot.discord_adapter.jobs"] | {"cogs.images"}
    graph["bot.core.service"] = graph["bot.core.service"] | {"bot.settings"}
    assert layering_violations(graph) == [
        "bot.core.service -> bot.settings",
        "bot.discord_adapter.jobs -> cogs.images",
        "bot.storage.sqlite -> bot.openai_adapter.client",
    ]


def test_cogs_hold_only_extensions() -> None:
    for path in (ROOT / "cogs").glob("*.py"):
        if path.name == "__init__.py":
            continue
        assert "async def setup(" in path.read_text(), f"{path.relative_to(ROOT)} is not an extension"


def test_top_of_bot_is_only_the_entry() -> None:
    top = sorted(path.name for path in (ROOT / "bot").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "app.py", "settings.py"]


def test_readme_sketch_names_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    for layer in LAYERS:
        for package in layer:
            path = package.replace(".", "/")
            named = f"{path}/" in readme if (ROOT / path).is_dir() else f"{path}.py" in readme
            assert named, f"README's architecture sketch does not name {path}"
