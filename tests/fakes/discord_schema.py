"""The fake Discord's check of request (and its own response) bodies against Discord's OpenAPI description.

What it validates against is the vendored subset tests/fakes/specs/discord-routes.json (see
scripts/refresh_specs.py). Like the fake OpenAI: `oneOf` becomes `anyOf` (the description's unions overlap and
mark themselves with `x-discord-union`, not JSON Schema discriminators), every (method, route) gets one Draft
2020-12 validator built once per process, and fields the description does not declare are rejected even though
its objects are open, so a typo fails the test instead of being dropped. Mismatches come back in Discord's
"Invalid Form Body" shape: ``{"content": {"_errors": [{"code": ..., "message": ...}]}}``.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from tests.fakes import discord_state as s
from tests.fakes.discord_state import Call
from tests.fakes.spec_tools import one_of_to_any_of

DEFAULT_SPEC_PATH = Path(__file__).resolve().parent / "specs" / "discord-routes.json"
# The fake's own code: Discord silently drops fields it does not know, which would hide a misspelt one.
UNKNOWN_FIELD = "UNKNOWN_FIELD"
_EXTRAS_KEY = "x-threadpaint-discord-py"

JSON = dict[str, Any]
Path_ = tuple[str | int, ...]

# What the unmodified discord.py 2.7 writes although the description does not declare it (Discord ignores it),
# by component, with the value it must have. Any other undeclared field is still rejected.
_TTS_FALSE = {"tts": {"const": False}}  # handle_message_parameters writes `"tts": false` on every message payload
DISCORD_PY_EXTRAS: dict[str, JSON] = {
    "RichEmbed": {"flags": {"type": "integer", "minimum": 0}},  # Embed.to_dict always writes the embed's flags
    "IncomingWebhookUpdateRequestPartial": _TTS_FALSE,
    "IncomingWebhookUpdateForInteractionCallbackRequestPartial": _TTS_FALSE,
    "MessageEditRequestPartial": _TTS_FALSE,
    "BaseCreateMessageCreateRequest": {"tts": {"type": "boolean"}},  # a forum post's message, from the same helper
    "CreateForumThreadRequest": {"type": {"const": 11}},  # ForumChannel.create_thread hard-codes a public thread
    "ApplicationCommandUpdateRequest": {"nsfw": {"type": "boolean"}},  # AppCommand.to_dict always writes nsfw
}



def _is_snowflake_int(schema: JSON, instance: Any) -> bool:
    # discord.py writes snowflakes (and new attachments' file indexes) as ints; Discord reads them as strings.
    # Only where the description says snowflake: any other int-for-string stays an error.
    return (schema.get("format") == "snowflake" and type(instance) is int
            and 0 <= instance < 1 << 64)


def _type(validator: Validator, types: Any, instance: Any, schema: JSON) -> Iterator[ValidationError]:
    if _is_snowflake_int(schema, instance):
        return
    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema)


_DiscordValidator = validators.extend(Draft202012Validator, {"type": _type})


def _amend(components: JSON) -> None:
    # The description's ChannelTypes stops at GUILD_FORUM (15); Discord documents GUILD_MEDIA (16) and accepts
    # it in a channel option's channel_types, where discord.py puts it for every ForumChannel parameter.
    channel_types = components["schemas"].get("ChannelTypes")
    if channel_types is not None and not any(v.get("const") == 16 for v in channel_types["oneOf"]):
        channel_types["oneOf"].append({"title": "GUILD_MEDIA", "const": 16})


@functools.lru_cache(maxsize=4)
def load_spec(spec_path: Path = DEFAULT_SPEC_PATH) -> JSON:
    """The description (amended as `_amend` says) with every `oneOf` read as `anyOf`, parsed once per process."""
    spec: JSON = json.loads(spec_path.read_text(encoding="utf-8"))
    _amend(spec["components"])
    amended: JSON = one_of_to_any_of(spec)
    return amended


@dataclass(frozen=True)
class BodySchema:
    """One body schema of one operation, with the validator built for it."""

    validator: Validator
    components: JSON = field(repr=False)

    def errors(self, body: Any, *, undeclared: bool = True) -> JSON | None:
        """Discord's nested ``errors`` object for `body`, or None if the description accepts it.

        Schema errors come first; only a body that validates is checked for undeclared fields, so the
        real mistake is never hidden behind a list of keys.
        """
        tree: JSON = {}
        for error in self.validator.iter_errors(body):
            for path, code, message in _leaves(error):
                _insert(tree, path, code, message)
        if tree or not undeclared:
            return tree or None
        for path in self.undeclared(self.validator.schema, body, ()):
            _insert(tree, path, UNKNOWN_FIELD, "Unknown field: Discord's API description does not declare it.")
        return tree or None

    # -- undeclared fields: walk the body along the schema it actually matched

    def undeclared(self, schema: Any, instance: Any, path: Path_) -> list[Path_]:
        if not isinstance(instance, dict | list):
            return []
        shape = self._shape(schema, instance, path)
        found: list[Path_] = []
        if isinstance(instance, list):
            for i, item in enumerate(instance):
                for items in shape.items:
                    found += self.undeclared(items, item, (*path, i))
            return found
        for key, value in instance.items():
            if key in shape.properties:
                found += self.undeclared(shape.properties[key], value, (*path, key))
            elif key in shape.extras:
                if not self.validator.evolve(schema=shape.extras[key]).is_valid(value):
                    found.append((*path, key))
            elif shape.additional is not None:
                found += self.undeclared(shape.additional, value, (*path, key))
            elif shape.closed:
                found.append((*path, key))
        return found

    def _shape(self, schema: Any, instance: Any, path: Path_) -> _Shape:
        shape = _Shape()
        for part in self._parts(schema):
            if "anyOf" in part:
                # The branch this value matched; if several do, the one that declares most of it.
                matching = [b for b in part["anyOf"] if self.validator.evolve(schema=b).is_valid(instance)]
                if len(matching) > 1:
                    matching.sort(key=lambda b: len(self.undeclared(b, instance, path)))
                if matching:
                    shape.merge(self._shape(matching[0], instance, path))
            if isinstance(instance, dict):
                shape.extras.update(part.get(_EXTRAS_KEY, {}))
                if "properties" in part:
                    shape.closed = True
                    for key, sub in part["properties"].items():
                        shape.properties.setdefault(key, sub)
                extra = part.get("additionalProperties")
                if extra is not None and extra is not False:
                    shape.additional = {} if extra is True else extra
                if "patternProperties" in part:
                    shape.additional = {}  # keys the description leaves free: nothing to check inside
            elif "items" in part and part["items"] is not False:
                shape.items.append(part["items"])
        return shape

    def _parts(self, schema: Any) -> Iterator[JSON]:
        """`schema` and everything it takes on through `$ref` and `allOf`."""
        if not isinstance(schema, dict):
            return
        yield schema
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in DISCORD_PY_EXTRAS:
                yield {_EXTRAS_KEY: DISCORD_PY_EXTRAS[name]}
            yield from self._parts(self._resolve(schema["$ref"]))
        for sub in schema.get("allOf", []):
            yield from self._parts(sub)

    def _resolve(self, ref: str) -> Any:
        node: Any = {"components": self.components}
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


@dataclass
class _Shape:
    properties: JSON = field(default_factory=dict)
    additional: Any = None
    closed: bool = False
    items: list[Any] = field(default_factory=list)
    extras: JSON = field(default_factory=dict)

    def merge(self, other: _Shape) -> None:
        for key, sub in other.properties.items():
            self.properties.setdefault(key, sub)
        self.additional = self.additional if other.additional is None else other.additional
        self.closed = self.closed or other.closed
        self.items += other.items
        self.extras.update(other.extras)


@functools.cache
def request_schema(method: str, route: str, spec_path: Path = DEFAULT_SPEC_PATH) -> BodySchema | None:
    """The JSON body schema of `method route` (also what a multipart request's payload_json must match)."""
    spec = load_spec(spec_path)
    operation = spec["paths"][route][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    return _body_schema(content["schema"], spec["components"], int_snowflakes=True)


@functools.cache
def response_schema(method: str, route: str, status: int, spec_path: Path = DEFAULT_SPEC_PATH) -> BodySchema | None:
    """The JSON schema of the `status` response of `method route` (exact status, else its "4XX"-style class)."""
    spec = load_spec(spec_path)
    responses = spec["paths"][route][method.lower()]["responses"]
    response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if response is None:
        raise KeyError(f"{method} {route} documents no {status} response")
    while "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {}).get("application/json")
    # Strict: what the fake answers is Discord's output, where snowflakes are always strings.
    return None if content is None else _body_schema(content["schema"], spec["components"], int_snowflakes=False)


def response_problems(method: str, route: str, status: int, body: Any) -> list[str]:
    """What is wrong with a success body the fake answered, by the description's response schema.

    Types, required fields and enums only: the description's response objects lag behind what Discord sends
    (e.g. `guild_id` on messages), and an extra field cannot mislead discord.py the way a missing or
    mistyped one can.
    """
    schema = response_schema(method, route, status)
    errors = schema.errors(body, undeclared=False) if schema is not None else None
    return flatten(errors) if errors else []


# The routes whose success answers `answer_problems` checks: messages, interactions, threads, channels, users.
# (Login and command sync are left out: their answers are not yet what the description requires.)
RESPONSE_CHECKED = frozenset({s.MESSAGES, s.MESSAGE, s.CALLBACK, s.ORIGINAL, s.WEBHOOK, s.WEBHOOK_MESSAGE,
                              s.MESSAGE_THREADS, s.THREADS, s.CHANNEL, s.USER, s.USER_DM, s.GUILD_MEMBER})


def answer_problems(calls: Iterable[Call]) -> list[tuple[str, list[str]]]:
    """("METHOD route", problems) for every success answer the fake gave on RESPONSE_CHECKED routes."""
    return [(f"{c.method} {c.route}", response_problems(c.method, c.route, c.status, c.response))
            for c in calls if c.route in RESPONSE_CHECKED and 200 <= c.status < 300 and c.response is not None]


def _body_schema(schema: JSON, components: JSON, *, int_snowflakes: bool) -> BodySchema:
    # The schema's own refs point into #/components, so the components travel inside its root document.
    cls = _DiscordValidator if int_snowflakes else Draft202012Validator
    return BodySchema(cls({**schema, "components": components}), components)


# ----------------------------------------------------------------------------- Discord's error tree

_TYPE_ERRORS = {
    "integer": ("NUMBER_TYPE_COERCE", 'Value "{value}" is not int.'),
    "number": ("NUMBER_TYPE_COERCE", 'Value "{value}" is not float.'),
    "boolean": ("BASE_TYPE_BOOLEAN", "Must be either true or false."),
    "string": ("STRING_TYPE_CONVERT", 'Could not interpret "{value}" as string.'),
    "object": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
    "array": ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"),
}


def _leaves(error: ValidationError) -> Iterator[tuple[Path_, str, str]]:
    """The (path, code, message) entries Discord would report for one validation error."""
    if error.validator == "anyOf" and error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)
        # Drop the branches that are the wrong kind of value or the wrong variant (their `type` tag failed):
        # what is left is the variant the sender meant.
        meant = [errs for errs in branches.values()
                 if not any(_wrong_kind(e) or _wrong_tag(e) for e in errs)]
        if len(meant) == 1:
            for sub in meant[0]:
                yield from _leaves(sub)
            return
        if all(len(errs) == 1 and not errs[0].relative_path and errs[0].validator in ("enum", "const")
               for errs in branches.values()):  # an enumeration written as one const per branch
            choices = _sorted({v for errs in branches.values() for v in _tag_values(errs[0])})
            yield _path(error), "BASE_TYPE_CHOICES", f"Value must be one of {_set(choices)}."
            return
        tags = [next((e for e in errs if _wrong_tag(e)), None) for errs in branches.values()]
        if all(tags):  # no variant has this tag: name them all
            choices = _sorted({v for e in tags if e is not None for v in _tag_values(e)})
            yield (*_path(error), "type"), "BASE_TYPE_CHOICES", f"Value must be one of {_set(choices)}."
            return
        narrowed = best_match(error.context)
        if narrowed is not None and narrowed is not error:
            yield from _leaves(narrowed)
            return
    yield _path(error), *_code_and_message(error)


def _wrong_kind(error: ValidationError) -> bool:
    return not error.relative_path and error.validator == "type"


def _wrong_tag(error: ValidationError) -> bool:
    return list(error.relative_path) == ["type"] and error.validator in ("enum", "const")


def _tag_values(error: ValidationError) -> list[Any]:
    return list(error.validator_value) if error.validator == "enum" else [error.validator_value]


def _path(error: ValidationError) -> Path_:
    path: Path_ = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # One error per missing field; its message is the only place that names which one.
        missing = [k for k in error.validator_value if k not in error.instance]
        path += tuple(k for k in missing if error.message == f"{k!r} is a required property")[:1] or (missing[0],)
    return path


def _code_and_message(error: ValidationError) -> tuple[str, str]:
    kind, limit, schema = str(error.validator), error.validator_value, error.schema
    snowflake = isinstance(schema, dict) and schema.get("format") == "snowflake"
    if snowflake and kind in ("type", "pattern"):
        return "NUMBER_TYPE_COERCE", f'Value "{error.instance}" is not snowflake.'
    if kind == "type":
        expected = [t for t in ([limit] if isinstance(limit, str) else limit) if t != "null"] or ["null"]
        code, template = _TYPE_ERRORS.get(expected[0], ("BASE_TYPE_INVALID", "Invalid type."))
        return code, template.format(value=error.instance)
    if kind in ("maxLength", "maxItems", "maxProperties"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
    if kind in ("minLength", "minItems", "minProperties"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length."
    if kind in ("enum", "const"):
        return "BASE_TYPE_CHOICES", f"Value must be one of {_set(limit if kind == 'enum' else [limit])}."
    if kind == "required":
        return "BASE_TYPE_REQUIRED", "This field is required"
    if kind in ("maximum", "exclusiveMaximum"):
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {limit}."
    if kind in ("minimum", "exclusiveMinimum"):
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {limit}."
    if kind == "pattern":
        return "STRING_TYPE_REGEX", "String value did not match validation regex."
    if kind == "uniqueItems":
        return "LIST_ITEM_VALUE_DUPLICATED", "List items must be unique."
    return "BASE_TYPE_INVALID", error.message[:200]


def _sorted(values: set[Any]) -> list[Any]:
    return sorted(values, key=lambda v: (isinstance(v, str), v))


def _set(values: Sequence[Any]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def _insert(tree: JSON, path: Path_, code: str, message: str) -> None:
    node = tree
    for key in path:  # list indexes become string keys, as Discord writes them
        node = node.setdefault(str(key), {})
    entries = node.setdefault("_errors", [])
    if {"code": code, "message": message} not in entries:
        entries.append({"code": code, "message": message})


def flatten(errors: JSON, prefix: str = "") -> list[str]:
    """The tree as discord.py prints it: "In embeds.0.title: Must be 256 or fewer in length."."""
    out = []
    for key, value in errors.items():
        if key == "_errors":
            out += [f"In {prefix or 'body'}: {e['message']} ({e['code']})" for e in value]
        else:
            out += flatten(value, f"{prefix}.{key}" if prefix else key)
    return out
