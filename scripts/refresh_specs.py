"""Regenerate the OpenAPI subsets the test doubles validate against, from the official descriptions.

    python scripts/refresh_specs.py --openai PATH/openapi.json --discord PATH/openapi_preview.json

The inputs are local copies of the files named in SOURCES (download them at the revision you want). It writes

- tests/fakes/specs/openai-create-response.json: `components.schemas.CreateResponse` and every component it
  references, directly or not, copied verbatim; nothing else;
- tests/fakes/specs/discord-routes.json: the paths and operations tests/fakes/discord_server.py serves, and every
  component they reference.

Each file records its source under "x-threadpaint-source", which the loaders ignore. Paths and components are
sorted and the layout fixed (see `render`), so a refresh's diff shows exactly what changed upstream; if nothing
did, the files stay byte for byte the same (the generation date is kept). Before writing, it checks that the
OpenAI subset gives the full description's verdict on every body in tests/fakes/openai_samples.py, and that
each subset resolves all its refs. A different input file needs its revision: pass `--openai-rev` /
`--discord-rev` (or add it to SOURCES).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from anywhere: import the fakes from this checkout

from jsonschema import Draft202012Validator  # noqa: E402

from tests.fakes.discord_server import API_PREFIX, FakeDiscord  # noqa: E402
from tests.fakes.openai_samples import SAMPLES  # noqa: E402
from tests.fakes.openai_server import create_response_validator, schema_error  # noqa: E402

SPECS_DIR = ROOT / "tests" / "fakes" / "specs"
OPENAI_OUT = SPECS_DIR / "openai-create-response.json"
DISCORD_OUT = SPECS_DIR / "discord-routes.json"
META_KEY = "x-threadpaint-source"
OPENAI_ROOT_SCHEMA = "CreateResponse"

# The revision each known input file (by SHA-256) was taken from.
SOURCES: dict[str, dict[str, Any]] = {
    "openai": {
        "repository": "https://github.com/openai/openai-openapi",
        "file": "openapi.json",
        "known": {"bbfd19abcde0e7412da99378deb2a959ccdd3a812f97c9e35901921e8e973f9a": "f85dbe2 (2026-08-21)"},
    },
    "discord": {
        "repository": "https://github.com/discord/discord-api-spec",
        "file": "specs/openapi_preview.json",
        "known": {"8c1d0707ccdf8e380a86dfba04058820a66435c1b69d5ed82e04dd8c0520dd73": "74fda0f"},
    },
}

JSON = dict[str, Any]


# --------------------------------------------------------------------------- subsets


def refs_in(node: Any) -> Iterator[str]:
    """Every `$ref` string in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def _component_of(ref: str) -> tuple[str, str]:
    # "#/components/schemas/Foo" (or a pointer inside Foo) -> ("schemas", "Foo"); the whole component is kept.
    parts = ref.split("/")
    if len(parts) < 4 or parts[:2] != ["#", "components"]:
        raise ValueError(f"not a local component reference: {ref}")
    name = parts[3].replace("~1", "/").replace("~0", "~")
    return parts[2], name


def component_closure(spec: JSON, roots: Iterable[str]) -> JSON:
    """The components the `roots` refs reach, transitively, copied verbatim: {kind: {name: component}}."""
    components = spec.get("components", {})
    seen: set[tuple[str, str]] = set()
    queue = list(roots)
    while queue:
        kind, name = _component_of(queue.pop())
        if (kind, name) in seen:
            continue
        if name not in components.get(kind, {}):
            raise ValueError(f"dangling reference: #/components/{kind}/{name}")
        seen.add((kind, name))
        queue.extend(refs_in(components[kind][name]))
    closure: JSON = {}
    for kind, name in sorted(seen):
        closure.setdefault(kind, {})[name] = components[kind][name]
    return closure


def unresolved_refs(doc: JSON) -> list[str]:
    """The `$ref`s in `doc` that do not resolve inside it (empty when the subset is closed)."""
    missing = []
    for ref in sorted(set(refs_in(doc))):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(ref)
    return missing


def openai_subset(spec: JSON) -> JSON:
    closure = component_closure(spec, [f"#/components/schemas/{OPENAI_ROOT_SCHEMA}"])
    return {"openapi": spec["openapi"], "info": _info(spec), "components": closure}


def discord_subset(spec: JSON, routes: Iterable[tuple[str, str]]) -> JSON:
    paths: JSON = {}
    for method, route in routes:
        item = spec["paths"].get(route)
        if item is None or method.lower() not in item:
            raise ValueError(f"the fake serves {method} {route}, which the Discord description lacks")
        kept = paths.setdefault(route, {k: v for k, v in item.items() if k == "parameters"})
        kept[method.lower()] = item[method.lower()]
    closure = component_closure(spec, refs_in(paths))
    schemes = sorted({name for item in paths.values() for op in item.values() if isinstance(op, dict)
                      for requirement in op.get("security", []) for name in requirement})
    if schemes:
        closure["securitySchemes"] = {name: spec["components"]["securitySchemes"][name] for name in schemes}
    return {"openapi": spec["openapi"], "info": _info(spec), "servers": spec.get("servers", []),
            "paths": paths, "components": closure}


def _info(spec: JSON) -> JSON:
    return {"title": spec["info"]["title"], "version": spec["info"]["version"]}


# --------------------------------------------------------------------------- output


def render(doc: JSON) -> str:
    """The file's text: the source record first, then every other key, paths, methods and components sorted;
    one-space indent, UTF-8 as is, a final newline. Stable across runs and platforms.

    Inside a component or an operation the upstream key order is kept: the validator reports errors in keyword
    order and the fake's message picks among equally relevant errors by it, so sorting there would change what
    the fake answers (the sample check caught that for `tool_choice`).
    """
    ordered: JSON = {META_KEY: dict(sorted(doc[META_KEY].items()))} if META_KEY in doc else {}
    for key in sorted(k for k in doc if k != META_KEY):
        value = doc[key]
        if key == "paths":
            value = {route: dict(sorted(value[route].items())) for route in sorted(value)}
        elif key == "components":
            value = {kind: dict(sorted(value[kind].items())) for kind in sorted(value)}
        ordered[key] = value
    return json.dumps(ordered, indent=1, ensure_ascii=False) + "\n"


def with_source(doc: JSON, source: JSON, existing: Path) -> JSON:
    """`doc` with its source recorded; the previous generation date is kept if nothing else changed."""
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    stamped = {**doc, META_KEY: {**source, "generated": today}}
    if existing.exists():
        old = json.loads(existing.read_text(encoding="utf-8"))
        old_date = old.get(META_KEY, {}).get("generated")
        if old_date and render({**stamped, META_KEY: {**source, "generated": old_date}}) == render(old):
            return old
    return stamped


def source_record(name: str, path: Path, revision: str | None, spec: JSON, what: str, command: str) -> JSON:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    known = SOURCES[name]["known"]
    revision = revision or known.get(digest)
    if revision is None:
        raise SystemExit(f"{path.name}: unknown file (sha256 {digest}); pass --{name}-rev with its commit")
    return {
        "repository": SOURCES[name]["repository"],
        "file": SOURCES[name]["file"],
        "revision": revision,
        "sha256": digest,
        "api_version": spec["info"]["version"],
        "subset": what,
        "generator": command,
    }


# --------------------------------------------------------------------------- verification


def _errors(validator: Draft202012Validator, body: Any) -> list[tuple[str, str, str]]:
    return sorted((json.dumps(list(e.absolute_path)), str(e.validator), e.message) for e in validator.iter_errors(body))


def check_openai_subset(full_path: Path, subset_path: Path) -> list[str]:
    """Problems found: a sample judged differently by the subset, or not as tests/fakes/openai_samples.py says."""
    full, subset = create_response_validator(full_path), create_response_validator(subset_path)
    problems = []
    for sample_id, body, expected in SAMPLES:
        full_error, subset_error = schema_error(full, body), schema_error(subset, body)
        if full_error != subset_error or _errors(full, body) != _errors(subset, body):
            problems.append(f"{sample_id}: the subset answers {subset_error}, the full description {full_error}")
        verdict = full_error["param"] if full_error else None
        if verdict != expected:
            problems.append(f"{sample_id}: the full description names {verdict!r}, the sample expects {expected!r}")
    return problems


def check_discord_subset(full: JSON, subset: JSON) -> list[str]:
    """Problems found: a request body schema that validates differently against the subset's components."""
    problems = []
    probes: list[Any] = [{}, {"content": "x"}, {"name": 1}, {"type": 4, "data": {"content": "x"}}, []]
    for route, item in subset["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                schema = content["schema"]
                pair = [Draft202012Validator({"allOf": [schema], "components": doc["components"]})
                        for doc in (full, subset)]
                for body in probes:
                    if _errors(pair[0], body) != _errors(pair[1], body):
                        problems.append(f"{method.upper()} {route} ({media}): the subset judges {body!r} differently")
    return problems


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--openai", type=Path, required=True, help=f"OpenAI's {SOURCES['openai']['file']}")
    parser.add_argument("--discord", type=Path, required=True, help=f"Discord's {SOURCES['discord']['file']}")
    parser.add_argument("--openai-rev", help="the openai-openapi commit the file comes from, if not in SOURCES")
    parser.add_argument("--discord-rev", help="the discord-api-spec commit the file comes from, if not in SOURCES")
    args = parser.parse_args(argv)
    # Only file names: where a developer keeps the inputs is no business of the generated files.
    command = f"python scripts/refresh_specs.py --openai {args.openai.name} --discord {args.discord.name}"

    openai_spec = json.loads(args.openai.read_text(encoding="utf-8"))
    discord_spec = json.loads(args.discord.read_text(encoding="utf-8"))
    openai_doc = with_source(
        openai_subset(openai_spec),
        source_record("openai", args.openai, args.openai_rev, openai_spec,
                      f"components.schemas.{OPENAI_ROOT_SCHEMA} and every component it references", command),
        OPENAI_OUT,
    )
    routes = sorted(FakeDiscord().routes)
    discord_doc = with_source(
        discord_subset(discord_spec, routes),
        source_record("discord", args.discord, args.discord_rev, discord_spec,
                      "the operations tests/fakes/discord_server.py serves and every component they reference",
                      command),
        DISCORD_OUT,
    )

    problems = [f"{name}: unresolved {ref}" for name, doc in (("openai", openai_doc), ("discord", discord_doc))
                for ref in unresolved_refs(doc)]
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / OPENAI_OUT.name
        candidate.write_text(render(openai_doc), encoding="utf-8")
        problems += check_openai_subset(args.openai.resolve(), candidate)
    problems += check_discord_subset(discord_spec, discord_doc)
    if problems:
        print("not written:", *problems, sep="\n  ", file=sys.stderr)
        return 1

    SPECS_DIR.mkdir(parents=True, exist_ok=True)
    for path, doc in ((OPENAI_OUT, openai_doc), (DISCORD_OUT, discord_doc)):
        text = render(doc)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{len(v)} {k}" for k, v in doc["components"].items())
        print(f"{path.relative_to(ROOT)}: {'updated' if changed else 'unchanged'} ({counts})")
    print(f"checked {len(SAMPLES)} sample bodies and {len(routes)} Discord routes (prefix {API_PREFIX})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
