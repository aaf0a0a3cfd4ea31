"""The vendored OpenAPI subsets in tests/fakes/specs/: what the fakes validate against, inside the checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.refresh_specs import META_KEY, component_closure, refs_in, render, unresolved_refs
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_samples import SAMPLES
from tests.fakes.openai_server import DEFAULT_SPEC_PATH, create_response_validator, schema_error

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests" / "fakes" / "specs"
OPENAI_SUBSET = SPECS / "openai-create-response.json"
DISCORD_SUBSET = SPECS / "discord-routes.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_fake_openai_validates_against_the_vendored_subset() -> None:
    assert DEFAULT_SPEC_PATH == OPENAI_SUBSET
    assert DEFAULT_SPEC_PATH.resolve().is_relative_to(ROOT)


@pytest.mark.parametrize(("body", "expected"), [(body, param) for _, body, param in SAMPLES],
                         ids=[sample_id for sample_id, _, _ in SAMPLES])
def test_openai_subset_verdicts(body: dict[str, Any], expected: str | None) -> None:
    """Valid bodies pass; each mistake is reported on the parameter the real API would name."""
    error = schema_error(create_response_validator(OPENAI_SUBSET), body)
    assert (error["param"] if error else None) == expected


def test_openai_subset_is_create_response_and_nothing_else() -> None:
    doc = load(OPENAI_SUBSET)
    assert set(doc) == {META_KEY, "openapi", "info", "components"}
    assert unresolved_refs(doc) == []
    # Every schema is reachable from CreateResponse: the closure of the subset is the subset itself.
    assert component_closure(doc, ["#/components/schemas/CreateResponse"]) == doc["components"]


def test_discord_subset_has_the_routes_the_fake_serves() -> None:
    doc = load(DISCORD_SUBSET)
    served = sorted(FakeDiscord().routes)
    assert served, "the fake serves no routes?"
    documented = sorted((method.upper(), route) for route, item in doc["paths"].items()
                        for method in item if method != "parameters")
    assert documented == served
    for method, route in served:
        assert doc["paths"][route][method.lower()]["responses"], f"{method} {route} has no responses"
    assert unresolved_refs(doc) == []
    assert component_closure(doc, refs_in(doc["paths"]))["schemas"] == doc["components"]["schemas"]


def test_discord_subset_validates_a_message_body() -> None:
    """Usable as is: the message-create body schema accepts what discord.py sends and rejects a bad type."""
    from jsonschema import Draft202012Validator

    doc = load(DISCORD_SUBSET)
    schema = doc["paths"]["/channels/{channel_id}/messages"]["post"]["requestBody"]["content"]["application/json"]
    validator = Draft202012Validator({"allOf": [schema["schema"]], "components": doc["components"]})
    assert list(validator.iter_errors({"content": "hello", "embeds": [{"title": "x"}]})) == []
    assert list(validator.iter_errors({"content": 5})) != []


@pytest.mark.parametrize("path", [OPENAI_SUBSET, DISCORD_SUBSET], ids=["openai", "discord"])
def test_subsets_record_their_source_and_are_in_canonical_form(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    source = doc[META_KEY]
    assert source["repository"].startswith("https://github.com/")
    assert source["revision"] and source["file"] and len(source["sha256"]) == 64 and source["generated"]
    assert source["generator"].startswith("python scripts/refresh_specs.py --openai ")
    assert text == render(doc), "edited by hand? regenerate with scripts/refresh_specs.py"


def test_closure_follows_refs_transitively_and_keeps_nothing_else() -> None:
    spec = {
        "components": {
            "schemas": {
                "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"items": {"$ref": "#/components/schemas/C~1D"}},
                "C/D": {"$ref": "#/components/schemas/A"},  # a cycle back to A
                "Unused": {"type": "string"},
            },
            "responses": {"R": {"$ref": "#/components/schemas/B"}},
        }
    }
    assert component_closure(spec, ["#/components/schemas/A"]) == {
        "schemas": {name: spec["components"]["schemas"][name] for name in ("A", "B", "C/D")}
    }
    assert set(component_closure(spec, ["#/components/responses/R"])) == {"responses", "schemas"}
    with pytest.raises(ValueError, match="dangling"):
        component_closure(spec, ["#/components/schemas/Missing"])


def test_render_is_independent_of_input_order() -> None:
    one = {META_KEY: {"b": 1, "a": 2}, "components": {"schemas": {"Z": {"type": "x", "enum": []}, "A": {}}}}
    two = {"components": {"schemas": {"A": {}, "Z": {"type": "x", "enum": []}}}, META_KEY: {"a": 2, "b": 1}}
    assert render(one) == render(two)
    # Inside a schema the upstream order stays: the validator reports errors in keyword order.
    assert render(one).index('"type"') < render(one).index('"enum"')
