"""Turning streamed Responses events into the SDK's types cheaply, when they carry megabytes of image.

Two costs dominated the bot's event loop once the bytes had arrived. `json.loads` scans a 2.7 MB base64 string
character by character (about 3 ms per image event); here the JSON around the image strings is parsed and the
strings, which need no unescaping, are sliced out as they are. And the SDK builds each event by first validating
it against the union of ~50 event types, then walking it in Python (up to 5 ms for `response.completed`); here
the event's own class, named by its `type`, validates it in pydantic's compiled core (a tenth of that).
Anything unexpected falls back to the SDK's own path, so results and errors are the SDK's.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pydantic
from openai._streaming import ServerSentEvent
from openai.types.responses import ResponseStreamEvent

# Below this length a string value is parsed like any other JSON.
LONG_STRING = 64 * 1024
# The fields of the Responses API that carry base64 images.
_IMAGE_KEYS = ('"partial_image_b64"', '"result"')
_PLACEHOLDER = "\0threadpaint-image\0"
_PLACEHOLDER_JSON = json.dumps(_PLACEHOLDER)


def loads(text: str) -> Any:
    """`json.loads(text)`, without scanning long image strings (which contain nothing to unescape)."""
    spans = _image_spans(text)
    if not spans:
        return json.loads(text)
    pieces: list[str] = []
    images: list[str] = []
    last = 0
    for start, end in spans:
        pieces += [text[last : start - 1], _PLACEHOLDER_JSON]
        images.append(text[start:end])
        last = end + 1
    pieces.append(text[last:])
    parsed = json.loads("".join(pieces))
    restorer = _Restorer(images)
    parsed = restorer.restore(parsed)
    if restorer.seen != len(images):  # some other string equals the placeholder: never guess, parse it all
        return json.loads(text)
    return parsed


def _image_spans(text: str) -> list[tuple[int, int]]:
    """Where long image strings start and end (their contents, without quotes), in document order.

    Hops from quote to quote (memchr-fast), so the megabytes of an image are scanned once, and looks closely
    only at long quote-free stretches.
    """
    spans = []
    quote = text.find('"')
    while quote >= 0:
        after = text.find('"', quote + 1)
        if after < 0:
            break
        # No backslash inside: the stretch is the string's whole value, with nothing to unescape.
        if after - quote > LONG_STRING and _opens_image_value(text, quote) and text.find("\\", quote, after) < 0:
            spans.append((quote + 1, after))
        quote = after
    return spans


def _opens_image_value(text: str, quote: int) -> bool:
    """Whether the quote at `quote` opens the value of an image key: `{` or `,`, the key, `:`, the quote.

    A quote inside a string is escaped, so these characters right before it can only be JSON's own.
    """
    i = _skip_space_back(text, quote - 1)
    if i < 0 or text[i] != ":":
        return False
    i = _skip_space_back(text, i - 1)
    for key in _IMAGE_KEYS:
        if text.startswith(key, i - len(key) + 1):
            before = _skip_space_back(text, i - len(key))
            return before >= 0 and text[before] in "{,"
    return False


def _skip_space_back(text: str, i: int) -> int:
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    return i


class _Restorer:
    """Puts the sliced-out strings back; json.loads keeps document order, so they come back in cut order."""

    def __init__(self, images: list[str]) -> None:
        self._images = images
        self.seen = 0

    def restore(self, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self.restore(item)
        elif isinstance(value, list):
            value[:] = [self.restore(item) for item in value]
        elif value == _PLACEHOLDER:
            self.seen += 1
            return self._images[self.seen - 1] if self.seen <= len(self._images) else value
        return value


class ImageEvent(ServerSentEvent):
    """A server-sent event big enough to carry an image: `json()` uses `loads` above, once (the SDK's stream
    calls it once per event), and then lets go of the text."""

    def json(self) -> Any:
        parsed = loads(self._data)
        # The SDK keeps this event referenced until the next one arrives (a second or more between image events);
        # the parsed value has the image now, so its text, megabytes of it, can go.
        self._data = ""
        return parsed


def _event_classes() -> dict[str, type[pydantic.BaseModel]]:
    """Each `type` of the Responses stream and the one event class that has it."""
    union = typing.get_args(ResponseStreamEvent)[0]
    found: dict[str, list[type[pydantic.BaseModel]]] = {}
    for member in typing.get_args(union):
        for name in typing.get_args(member.model_fields["type"].annotation):
            found.setdefault(name, []).append(member)
    return {name: members[0] for name, members in found.items() if len(members) == 1}


_EVENT_CLASSES = _event_classes()

# What every image generation's stream sends. The rarer events (failures, a reply in text) are built when first
# seen: each embeds the whole Response model again, and all of them together held 8 MB more while idle.
IMAGE_STREAM_EVENTS = (
    "response.created", "response.in_progress", "response.output_item.added",
    "response.image_generation_call.in_progress", "response.image_generation_call.generating",
    "response.image_generation_call.partial_image", "response.image_generation_call.completed",
    "response.output_item.done", "response.completed",
)


def build_event_validators(types: tuple[str, ...] = IMAGE_STREAM_EVENTS) -> int:
    """Build the validators of the stream's event classes now; returns how many were built.

    pydantic builds an SDK event class's validator on its first use: 15-30 ms each, on the event loop, during the
    first job after every start (about 0.15 s in all). At start-up nobody waits for them.
    """
    built = 0
    for name in types:
        cls = _EVENT_CLASSES.get(name)
        if cls is not None and not cls.__pydantic_complete__:
            cls.model_rebuild()
            built += 1
    return built


def validate_stream_event(data: object, cast_to: object) -> pydantic.BaseModel | None:
    """The Responses event as its own class, validated; None when it is not one (or does not validate)."""
    if cast_to != ResponseStreamEvent or not isinstance(data, dict):
        return None
    cls = _EVENT_CLASSES.get(str(data.get("type")))
    if cls is None:
        return None
    try:
        event = cls.model_validate(data)
    except pydantic.ValidationError:
        return None
    # The SDK's stream keeps `data` referenced until the next event arrives; the event has every value now.
    data.clear()
    return event
