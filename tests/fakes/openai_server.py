"""An in-process fake of the OpenAI Responses API with the `image_generation` tool.

It is a real aiohttp server so the real SDK (httpx2 underneath, which respx cannot intercept) talks to
it over TCP. Wire formats follow /work/shared/reference/openai-image-streaming.md (§3.2/§3.3 event order,
§7 error shapes). Every request body is validated against the published OpenAPI description so the fake
cannot drift into agreeing with the bot's mistakes; rejected bodies land in `FakeOpenAI.validation_errors`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import colorsys
import contextlib
import copy
import functools
import json
import os
import re
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, get_args

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from openai.types.responses.response_error import ResponseError
from openai.types.responses.tool_param import ImageGeneration as ImageGenerationToolParam

from tests.fakes.images import Color, decode, make_image, make_noise_image

JSON = dict[str, Any]

SPEC_ENV_VAR = "THREADPAINT_OPENAI_SPEC"
# CI clones the repo with ../shared/ beside it, so resolve against the repo root's parent.
DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared/specs/openai-openapi.json"

DEFAULT_MODELS = ("gpt-5.4-mini", "gpt-5.6", "gpt-4.1-mini", "gpt-image-2", "gpt-image-1.5")
DEFAULT_IMAGE_MODEL = "gpt-image-2"
_IMAGE_MODELS = ("gpt-image-", "chatgpt-image-")  # the tool's `model` must be one of these families
REFUSAL_TEXT = "Sorry, I can't create that image."

# `response.failed` must carry a code from the SDK's Literal, or strict validation rejects the event.
RESPONSE_ERROR_CODES: frozenset[str] = frozenset(get_args(ResponseError.model_fields["code"].annotation))

# Documented output-token counts for a 1024² image (§9); each partial image costs 100 more.
_QUALITY_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
# Known parameter names, from the SDK's TypedDicts: a superset of the spec's (it is newer, e.g. the tool's
# complexity/frame_count), so the fake never rejects a parameter the real API would accept.
_REQUEST_KEYS = frozenset(ResponseCreateParamsStreaming.__annotations__)
_IMAGE_TOOL_KEYS = frozenset(ImageGenerationToolParam.__annotations__)
_ACCEPTED_INPUT_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)
_SCHEMA_ERROR_CODES = {
    "maximum": "integer_above_max_value",
    "minimum": "integer_below_min_value",
    "required": "missing_required_parameter",
    "type": "invalid_type",
}


# --------------------------------------------------------------------------- spec / validation


def default_spec_path() -> Path:
    """The OpenAPI file to validate against: $THREADPAINT_OPENAI_SPEC, else ../shared/specs/."""
    override = os.environ.get(SPEC_ENV_VAR)
    return Path(override) if override else DEFAULT_SPEC_PATH


def _one_of_to_any_of(node: Any) -> Any:
    # The spec's oneOf variants overlap (its discriminators are not JSON Schema), so valid bodies would
    # match several variants and fail oneOf; anyOf keeps the checks that matter (see specs/README.md).
    if isinstance(node, dict):
        return {("anyOf" if key == "oneOf" else key): _one_of_to_any_of(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_one_of_to_any_of(value) for value in node]
    return node


@functools.lru_cache(maxsize=4)
def create_response_validator(spec_path: Path) -> Draft202012Validator:
    """Build (once per process and path; the spec is 3.4 MB) the validator for CreateResponse bodies."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/CreateResponse", "components": _one_of_to_any_of(spec["components"])}
    return Draft202012Validator(schema)


def _narrow(error: ValidationError) -> ValidationError:
    # An anyOf over tagged variants reports "... is not valid under any of the given schemas"; follow the
    # single variant whose `type` tag matched so the message names the real problem (e.g. missing detail).
    while error.validator == "anyOf" and error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)
        tagged = [errs for errs in branches.values() if not any(list(e.relative_path) == ["type"] for e in errs)]
        if len(tagged) != 1:
            break
        narrowed = best_match(tagged[0])
        if narrowed is None:
            break
        error = narrowed
    return error


def _param_path(path: Iterator[Any] | Any) -> str:
    param = ""
    for key in path:
        param += f"[{key}]" if isinstance(key, int) else (f".{key}" if param else str(key))
    return param


def schema_error(validator: Draft202012Validator, body: Any) -> JSON | None:
    """The API-style error object for the first schema violation in `body`, or None if it is valid."""
    error = best_match(validator.iter_errors(body))
    if error is None:
        return _unknown_parameter(body)
    error = _narrow(error)
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        path += [key for key in error.validator_value if key not in error.instance][:1]
    param = _param_path(path) or None
    detail = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return _error_obj(
        f"Invalid value for '{param or 'body'}': {detail}",
        param=param,
        code=_SCHEMA_ERROR_CODES.get(str(error.validator), "invalid_value"),
    )


def _unknown_parameter(body: JSON) -> JSON | None:
    # The spec leaves these objects open, but the API rejects unknown parameters, and a typo such as
    # `partial_image` would otherwise pass silently. (A JSON Schema `unevaluatedProperties` cannot do this:
    # when any branch fails it reports every key as unexpected and hides the real error.)
    candidates = [(key, key) for key in body if key not in _REQUEST_KEYS]
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") == "image_generation":
            candidates += [(f"tools[{i}].{key}", key) for key in tool if key not in _IMAGE_TOOL_KEYS]
    if not candidates:
        return None
    param = candidates[0][0]
    return _error_obj(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


# --------------------------------------------------------------------------- public data types


@dataclass
class ImageScript:
    """What the fake "model" does for one POST /v1/responses."""

    final_color: Color = (200, 60, 40)
    partial_colors: list[Color] | None = None  # default: grey blending towards final_color
    partials_sent: int | None = None  # default: the requested partial_images (never more)
    revised_prompt: str | None = None  # default: "A detailed rendering of: <input text>"
    event_delay: float = 0.0  # seconds between streamed events
    # Seconds the image takes: the partials and the final are spread evenly over it (partial i of n after
    # (i+1)/(n+1) of it), so a job without partials shows its first pixels as late as a real one would.
    generation_time: float = 0.0
    text: str = "Here is your image."
    action: Literal["generate", "edit"] | None = None  # default: edit when there is an image in context
    call_tool: bool = True  # False: the model answers with text only
    input_tokens: int = 120
    output_tokens: int = 40
    cached_tokens: int = 0
    image_output_tokens: int | None = None  # default: from quality, +100 per partial
    # The finished image waits for this, after the previews (a job kept running on cue).
    hold_final: asyncio.Event | None = None
    # Shapes recorded from the real service (2025-2026) that the API description does not promise:
    # `response.completed` with tool_usage complete, partial (image_gen with only some counts) or absent,
    tool_usage: Literal["complete", "partial", "absent"] = "complete"
    # `usage.input_tokens_details` without cache_write_tokens (the SDK's type says it is required),
    cache_write_tokens: bool = True
    # and undocumented `{"type": "keepalive"}` events, this many after each image event.
    keepalives: int = 0
    # While hold_final holds the image back, another `generating` event every this many seconds (0: silence): an
    # upstream that never goes quiet long enough for STREAM_IDLE_TIMEOUT, yet never finishes.
    trickle: float = 0.0


FaultKind = Literal["http_error", "nested_error", "flat_error", "response_failed", "image_failed", "drop", "stall"]
_MID_STREAM: frozenset[str] = frozenset({"nested_error", "flat_error", "response_failed", "drop", "stall"})


@dataclass
class Fault:
    """A scripted failure; queued FIFO, each use consumes one POST /v1/responses (`times` uses in all).

    `error` is the inner OpenAI error object (message/type/param/code/...). `after_event` is how many
    stream events go out before a mid-stream fault fires (its sequence_number equals it).
    """

    kind: FaultKind
    status: int = 500  # http_error
    error: JSON = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # http_error, e.g. Retry-After
    times: int = 1
    after_event: int = 0
    seconds: float = 0.0  # stall
    then: Literal["continue", "end"] = "continue"  # stall: resume the stream or end it without completing

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "response_failed" and self.error.get("code") not in RESPONSE_ERROR_CODES:
            raise ValueError(f"response.failed code must be one of the SDK's ResponseError codes: {self.error}")
        if self.times < 1:
            raise ValueError("times must be >= 1")

    @classmethod
    def http(
        cls,
        status: int,
        message: str,
        *,
        type_: str,
        code: str | None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Fault:
        return cls(
            "http_error",
            status=status,
            error=_error_obj(message, type_=type_, code=code, **extra),
            headers=headers or {},
            times=times,
        )

    @classmethod
    def moderation_400(cls, categories: tuple[str, ...] = ("sexual",), stage: str = "input") -> Fault:
        return cls.http(
            400,
            _moderation_message(categories),
            type_="image_generation_user_error",
            code="moderation_blocked",
            moderation_details={"moderation_stage": stage, "categories": list(categories)},
        )

    @classmethod
    def rate_limited(cls, retry_after: float = 1, times: int = 1) -> Fault:
        return cls.http(
            429,
            "Rate limit reached for gpt-image-2 on images per minute (IPM): Limit 5, Used 5, "
            "Requested 1. Please try again in 12s.",
            type_="requests",
            code="rate_limit_exceeded",
            times=times,
            headers={"Retry-After": f"{retry_after:g}"},
        )

    @classmethod
    def insufficient_quota(cls) -> Fault:
        return cls.http(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            type_="insufficient_quota",
            code="insufficient_quota",
        )

    @classmethod
    def server_error(cls, status: int = 500, times: int = 1) -> Fault:
        return cls.http(
            status,
            "The server had an error while processing your request. Sorry about that!",
            type_="server_error",
            code=None,
            times=times,
        )

    @classmethod
    def model_not_found(cls, model: str = "gpt-5.6") -> Fault:
        return cls.http(404, _model_missing_message(model), type_="invalid_request_error", code="model_not_found")

    @classmethod
    def nested_error(
        cls,
        after_event: int = 7,
        code: str = "server_error",
        message: str = "The server had an error while processing your request.",
    ) -> Fault:
        return cls("nested_error", after_event=after_event, error=_error_obj(message, type_=code, code=code))

    @classmethod
    def flat_error(
        cls,
        after_event: int = 7,
        code: str = "server_error",
        message: str = "The server had an error while processing your request.",
    ) -> Fault:
        return cls("flat_error", after_event=after_event, error={"code": code, "message": message, "param": None})

    @classmethod
    def response_failed(
        cls, after_event: int = 7, code: str = "server_error", message: str = "Image generation failed."
    ) -> Fault:
        return cls("response_failed", after_event=after_event, error={"code": code, "message": message})

    @classmethod
    def image_failed(cls, categories: tuple[str, ...] = ("sexual",), stage: str = "output") -> Fault:
        return cls(
            "image_failed",
            error=_error_obj(
                _moderation_message(categories),
                type_="image_generation_user_error",
                code="moderation_blocked",
                moderation_details={"moderation_stage": stage, "categories": list(categories)},
            ),
        )

    @classmethod
    def drop(cls, after_event: int = 8) -> Fault:
        return cls("drop", after_event=after_event)

    @classmethod
    def stall(cls, seconds: float = 2.0, after_event: int = 1, then: Literal["continue", "end"] = "continue") -> Fault:
        return cls("stall", after_event=after_event, seconds=seconds, then=then)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    json: Any  # parsed body, or None
    status: int  # 0 until a response starts
    retry_count: int  # from x-stainless-retry-count


@dataclass
class Generation:
    """One image delivered to the client (recorded when its response completed)."""

    response_id: str
    request: JSON
    image_call_id: str
    partial_images: list[bytes]
    final_image: bytes
    final_color: Color
    revised_prompt: str
    previous_response_id: str | None
    input_images: list[bytes]


# --------------------------------------------------------------------------- helpers


def _error_obj(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    **extra: Any,
) -> JSON:
    return {"message": message, "type": type_, "param": param, "code": code, **extra}


def _moderation_message(categories: tuple[str, ...]) -> str:
    return (
        "Your request was rejected by the safety system. If you believe this is an error, contact us at "
        f"help.openai.com and include the request ID {uuid.uuid4()}. safety_violations=[{', '.join(categories)}]."
    )


def _model_missing_message(model: str) -> str:
    return f"The model `{model}` does not exist or you do not have access to it."


_RECORD = web.RequestKey("record", RecordedRequest)


class _ApiError(Exception):
    """Raised by handlers; the middleware turns it into the API's JSON error response."""

    def __init__(self, status: int, error: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(error["message"])
        self.status, self.error, self.headers = status, error, headers or {}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _default_color(n: int) -> tuple[int, int, int]:
    # Golden-ratio hue steps: consecutive default generations get clearly different colours.
    r, g, b = colorsys.hsv_to_rgb((n * 0.618034) % 1.0, 0.75, 0.9)
    return round(r * 255), round(g * 255), round(b * 255)


def _from_grey(color: Color, t: float) -> tuple[int, int, int]:
    """`color` at strength t in (0, 1) over mid-grey: default partial frames "sharpen" towards the final."""
    r, g, b = (round(128 + (c - 128) * t) for c in color[:3])
    return r, g, b


def _parse_size(size: str) -> tuple[int, int]:
    if size == "auto":
        return 1024, 1024
    width, _, height = size.partition("x")
    return int(width), int(height)


def _input_parts(body: JSON) -> Iterator[tuple[str, JSON, JSON]]:
    """(param path, input item, content part) for every content part of every input message."""
    items = body.get("input")
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict):
                    yield f"input[{i}].content[{j}]", item, part


def _prompt_text(body: JSON) -> str:
    """The latest user text: what the image model would be prompted with."""
    items = body.get("input")
    if isinstance(items, str):
        return items
    texts: list[str] = []
    for item in items or []:
        content = item.get("content") if isinstance(item, dict) and item.get("role") == "user" else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [part["text"] for part in content if isinstance(part, dict) and part.get("type") == "input_text"]
    return texts[-1] if texts else ""


def _decode_data_url(url: str, param: str) -> bytes:
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise _ApiError(
            400, _error_obj("Invalid image URL: expected a base64 data URL.", param=param, code="invalid_image_url")
        )
    try:
        data = base64.b64decode(match["data"], validate=True)
    except binascii.Error:
        raise _ApiError(
            400, _error_obj("Invalid base64 image data.", param=param, code="invalid_base64_image")
        ) from None
    try:
        fmt = decode(data).format
    except Exception:  # Pillow raises many kinds for garbage; all mean "not an image"
        fmt = None
    if fmt not in _ACCEPTED_INPUT_FORMATS:
        raise _ApiError(
            400,
            _error_obj(
                "Invalid image: supported formats are png, jpeg, webp and gif.",
                param=param,
                code="invalid_image",
            ),
        )
    return data


def _image_event(event: JSON) -> tuple[str, int] | None:
    """("partial", index) or ("final", 0) for the events that carry an image, else None."""
    if event["type"] == "response.image_generation_call.partial_image":
        return "partial", event["partial_image_index"]
    item = event.get("item") or {}
    if event["type"] == "response.output_item.done" and item.get("type") == "image_generation_call":
        return ("final", 0) if item.get("result") else None
    return None


_LARGE = 64 * 1024
_PLACEHOLDER = "__fake_openai_image__"


def _sse(event: JSON) -> bytes:
    # Base64 images need no JSON escaping, but json.dumps still scans them character by character (~15 ms for a
    # 2.7 MB image); splice them in verbatim so realistic payloads don't make the fake the bottleneck.
    images: list[str] = []

    def swap(holder: JSON, key: str) -> JSON:
        value = holder.get(key)
        if isinstance(value, str) and len(value) >= _LARGE:
            images.append(value)
            return {**holder, key: _PLACEHOLDER}
        return holder

    event = swap(event, "partial_image_b64")
    if isinstance(event.get("item"), dict):
        event = {**event, "item": swap(event["item"], "result")}
    response = event.get("response")
    if isinstance(response, dict) and isinstance(response.get("output"), list):
        event = {**event, "response": {**response, "output": [
            swap(item, "result") if isinstance(item, dict) else item for item in response["output"]
        ]}}
    data = json.dumps(event, separators=(",", ":"))
    if images:
        pieces = data.split(f'"{_PLACEHOLDER}"')
        assert len(pieces) == len(images) + 1
        quoted = [f'"{image}"' for image in images]
        data = "".join(part for pair in zip(pieces, [*quoted, ""], strict=True) for part in pair)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


# --------------------------------------------------------------------------- one response being produced


@dataclass
class _Run:
    response_id: str
    shell: JSON  # the Response object while in progress
    events: list[JSON]  # without sequence_number; numbered as they are sent
    response: JSON  # the completed Response
    generation: Generation | None
    event_delay: float
    image_gap: float = 0.0  # seconds before each partial_image event and before the final image
    hold_final: asyncio.Event | None = None
    trickle: float = 0.0


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """Fake api.openai.com: POST/GET/DELETE /v1/responses, GET /v1/models[/{id}]. Use `async with`."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        pixel_scale: float = 1 / 16,
        spec_path: Path | None = None,
        image_bytes: int | None = None,
    ) -> None:
        """`image_bytes`: make noise-textured images about this many bytes long (cached per colour) instead of
        solid colours, which compress to a few KB; for benchmarks with realistic payloads."""
        self.api_key = api_key
        self.pixel_scale = pixel_scale
        self.image_bytes = image_bytes
        self._images: dict[tuple[Color, tuple[int, int], str, int], bytes] = {}
        self._b64s: dict[bytes, str] = {}
        # (response_id, "partial" | "final", index, time.monotonic()) as each image event is handed to the socket.
        self.event_log: list[tuple[str, str, int, float]] = []
        self._validator = create_response_validator((spec_path or default_spec_path()).resolve())
        self.models: dict[str, JSON] = {
            model: {
                "id": model,
                "object": "model",
                "created": 1_767_225_600,
                "owned_by": "system",
                "shutdown_date": None,
            }
            for model in DEFAULT_MODELS
        }
        self.requests: list[RecordedRequest] = []
        self.generations: list[Generation] = []
        self.validation_errors: list[str] = []
        self.stored: dict[str, JSON] = {}
        self.deleted_responses: list[str] = []  # ids removed through DELETE /v1/responses/{id}, in order
        self._scripts: deque[ImageScript] = deque()
        self._faults: deque[Fault] = deque()
        self._fault_uses: dict[int, int] = defaultdict(int)
        self._default_count = 0
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v1/responses", self._create_response)
        app.router.add_get("/v1/responses/{response_id}", self._get_response)
        app.router.add_delete("/v1/responses/{response_id}", self._delete_response)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._get_model)
        app.on_response_prepare.append(self._add_request_id)
        # handler_cancellation: a client that times out mid-stall cancels the handler instead of leaving
        # it sleeping; a short shutdown_timeout keeps stop() fast when a stream is still open.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self._port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    # ---- scripting

    def queue_script(self, script: ImageScript) -> None:
        self._scripts.append(script)

    def add_fault(self, fault: Fault) -> None:
        self._faults.append(fault)

    def forget_response(self, response_id: str) -> None:
        """Simulate the 30-day expiry: the id no longer works for retrieve or previous_response_id."""
        self.stored.pop(response_id, None)

    def _next_fault(self) -> Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        self._fault_uses[id(fault)] += 1
        if self._fault_uses[id(fault)] >= fault.times:
            self._faults.popleft()
            del self._fault_uses[id(fault)]
        return fault

    # ---- plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={key.lower(): value for key, value in request.headers.items()},
            json=body,
            status=0,
            retry_count=int(request.headers.get("x-stainless-retry-count", "0")),
        )
        self.requests.append(record)
        request[_RECORD] = record
        try:
            response: web.StreamResponse = await handler(request)
        except _ApiError as error:
            response = web.json_response({"error": error.error}, status=error.status, headers=error.headers)
        # A dropped connection keeps status 0: nothing reached the client.
        if not record.status and request.transport is not None and not request.transport.is_closing():
            record.status = response.status
        return response

    async def _add_request_id(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("x-request-id", f"req_{uuid.uuid4().hex}")

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise _ApiError(
                401,
                _error_obj(
                    "Incorrect API key provided. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                ),
            )

    # ---- models / retrieve

    async def _list_models(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        return web.json_response({"object": "list", "data": list(self.models.values())})

    async def _get_model(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        model = request.match_info["model"]
        if model not in self.models:
            raise _ApiError(404, _error_obj(_model_missing_message(model), code="model_not_found"))
        return web.json_response(self.models[model])

    async def _get_response(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        response_id = request.match_info["response_id"]
        if response_id not in self.stored:
            raise _ApiError(404, _error_obj(f"Response with id '{response_id}' not found.", param="response_id"))
        stored = copy.deepcopy(self.stored[response_id])
        # The real API delivers image bytes only once; retrieve returns the item with result null.
        for item in stored["output"]:
            if item["type"] == "image_generation_call":
                item["result"] = None
        return web.json_response(stored)

    async def _delete_response(self, request: web.Request) -> web.Response:
        # Shape from the spec's deleteResponse example; the SDK itself casts the body to None.
        self._check_auth(request)
        response_id = request.match_info["response_id"]
        if self.stored.pop(response_id, None) is None:
            raise _ApiError(404, _error_obj(f"Response with id '{response_id}' not found.", param="response_id",
                                            code="not_found"))
        self.deleted_responses.append(response_id)
        return web.json_response({"id": response_id, "object": "response", "deleted": True})

    # ---- POST /v1/responses

    async def _create_response(self, request: web.Request) -> web.StreamResponse:
        self._check_auth(request)
        body = request[_RECORD].json
        if not isinstance(body, dict):
            self.validation_errors.append("request body is not a JSON object")
            raise _ApiError(400, _error_obj("We could not parse the JSON body of your request."))
        if (error := schema_error(self._validator, body)) is not None:
            self.validation_errors.append(error["message"])
            raise _ApiError(400, error)
        input_images = self._check_semantics(body)
        fault = self._next_fault()
        if fault is not None and fault.kind == "http_error":
            raise _ApiError(fault.status, fault.error, fault.headers)
        script = self._scripts.popleft() if self._scripts else self._default_script(body)
        run = self._build_run(body, script, fault, input_images)
        if body.get("stream"):
            return await self._stream(request, run, fault)
        return await self._respond(request, run, fault)

    def _default_script(self, body: JSON) -> ImageScript:
        self._default_count += 1
        return ImageScript(
            final_color=_default_color(self._default_count),
            revised_prompt=f"A detailed rendering of: {_prompt_text(body)}",
        )

    def _check_semantics(self, body: JSON) -> list[bytes]:
        """The checks the real API makes beyond the schema; returns the decoded input images."""
        if body["model"] not in self.models:
            raise _ApiError(404, _error_obj(_model_missing_message(body["model"]), code="model_not_found"))
        for i, tool in enumerate(body.get("tools") or []):
            if tool.get("type") != "image_generation":
                continue
            if "model" in tool and (tool["model"] not in self.models or not tool["model"].startswith(_IMAGE_MODELS)):
                raise _ApiError(
                    400,
                    _error_obj(
                        f"The model '{tool['model']}' does not exist.",
                        type_="image_generation_user_error",
                        param="tools",
                        code="invalid_value",
                    ),
                )
            fmt = tool.get("output_format", "png")
            if tool.get("background") == "transparent" and fmt == "jpeg":
                raise _ApiError(
                    400,
                    _error_obj(
                        "Transparent background is not supported with output_format 'jpeg'; use png or webp.",
                        param=f"tools[{i}].background",
                        code="invalid_value",
                    ),
                )
            if "output_compression" in tool and fmt == "png":
                raise _ApiError(
                    400,
                    _error_obj(
                        "output_compression is only supported for the jpeg and webp output formats.",
                        param=f"tools[{i}].output_compression",
                        code="invalid_value",
                    ),
                )
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self.stored:
            raise _ApiError(
                400,
                _error_obj(
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                ),
            )
        known_items = {item["id"] for response in self.stored.values() for item in response["output"]}
        for i, item in enumerate(body["input"] if isinstance(body.get("input"), list) else []):
            if isinstance(item, dict) and item.get("type") == "item_reference" and item["id"] not in known_items:
                raise _ApiError(400, _error_obj(f"Item with id '{item['id']}' not found.", param=f"input[{i}]"))
        return [
            _decode_data_url(part["image_url"], f"{path}.image_url")
            for path, _, part in _input_parts(body)
            if part.get("type") == "input_image" and str(part.get("image_url", "")).startswith("data:")
        ]

    def _has_image_context(self, body: JSON, input_images: list[bytes]) -> bool:
        # Any item_reference counts: the bot only references earlier image calls.
        if input_images or any(
            isinstance(item, dict) and item.get("type") == "item_reference" for item in body.get("input") or []
        ):
            return True
        response_id = body.get("previous_response_id")
        while response_id in self.stored:
            previous = self.stored[response_id]
            if any(
                item["type"] == "image_generation_call" and item["status"] == "completed" for item in previous["output"]
            ):
                return True
            response_id = previous.get("previous_response_id")
        return False

    # ---- building the event list

    def _shell(self, body: JSON, response_id: str, tools: list[JSON], reasoning: bool) -> JSON:
        """The Response object as it looks while in progress (§3.3), echoing the request."""
        return {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "background": bool(body.get("background")),
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": body["model"],
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": "medium" if reasoning else None, "summary": None, **(body.get("reasoning") or {})},
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": "default",
            "store": body.get("store") is not False,
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium", **(body.get("text") or {})},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": tools,
            "top_logprobs": 0,
            "truncation": "disabled",
            "usage": None,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    def _build_run(self, body: JSON, script: ImageScript, fault: Fault | None, input_images: list[bytes]) -> _Run:
        response_id = _new_id("resp")
        model = body["model"]
        reasoning = model.startswith(("gpt-5", "o"))
        tools = [self._tool_with_defaults(tool) for tool in body.get("tools") or []]
        image_tool = next((tool for tool in tools if tool["type"] == "image_generation"), None)
        shell = self._shell(body, response_id, tools, reasoning)
        events: list[JSON] = [
            {"type": "response.created", "response": shell},
            {"type": "response.in_progress", "response": shell},
        ]
        output: list[JSON] = []

        def emit(added: JSON, done: JSON, between: list[JSON]) -> None:
            index = len(output)
            events.append({"type": "response.output_item.added", "output_index": index, "item": added})
            # keepalive events carry nothing but their type and sequence number.
            events.extend(event if event["type"] == "keepalive" else {**event, "output_index": index}
                          for event in between)
            events.append({"type": "response.output_item.done", "output_index": index, "item": done})
            output.append(done)

        if reasoning:
            rs_id = _new_id("rs")
            emit(
                {"id": rs_id, "type": "reasoning", "summary": []},
                {"id": rs_id, "type": "reasoning", "summary": [], "encrypted_content": None},
                [],
            )

        generation: Generation | None = None
        text = script.text
        partials_sent = 0
        quality = "medium"
        if image_tool is not None and script.call_tool and body.get("tool_choice") != "none":
            quality = image_tool["quality"] if image_tool["quality"] in _QUALITY_TOKENS else "medium"
            action = script.action or ("edit" if self._has_image_context(body, input_images) else "generate")
            image_failed = fault is not None and fault.kind == "image_failed"
            ig_id = _new_id("ig")
            meta = {
                "background": "transparent" if image_tool["background"] == "transparent" else "opaque",
                "output_format": image_tool["output_format"],
                "quality": quality,
                "size": "1024x1024" if image_tool["size"] == "auto" else image_tool["size"],
            }
            between: list[JSON] = [
                {"type": "response.image_generation_call.in_progress", "item_id": ig_id},
                {"type": "response.image_generation_call.generating", "item_id": ig_id},
            ]
            done: JSON = {"id": ig_id, "type": "image_generation_call", "action": action, **meta}
            if image_failed:
                assert fault is not None
                done |= {"status": "failed", "result": None, "error": fault.error}
                text = REFUSAL_TEXT
            else:
                requested = int(image_tool["partial_images"] or 0) if body.get("stream") else 0
                partials_sent = min(requested, requested if script.partials_sent is None else script.partials_sent)
                final_color, partial_colors = self._colors(script, partials_sent, meta["background"])
                encode = functools.partial(
                    self._encode,
                    size=meta["size"],
                    fmt=meta["output_format"],
                    compression=image_tool["output_compression"],
                )
                partials = [encode(color) for color in partial_colors]
                final = encode(final_color)
                revised = script.revised_prompt or f"A detailed rendering of: {_prompt_text(body)}"
                for i, data in enumerate(partials):
                    between.append({
                        "type": "response.image_generation_call.partial_image",
                        "item_id": ig_id,
                        "partial_image_index": i,
                        "partial_image_b64": self._b64(data),
                        **meta,
                    })
                    between += [{"type": "keepalive"}] * script.keepalives
                between.append({"type": "response.image_generation_call.completed", "item_id": ig_id})
                done |= {"status": "completed", "result": self._b64(final), "revised_prompt": revised}
                generation = Generation(
                    response_id=response_id,
                    request=body,
                    image_call_id=ig_id,
                    partial_images=partials,
                    final_image=final,
                    final_color=final_color,
                    revised_prompt=revised,
                    previous_response_id=body.get("previous_response_id"),
                    input_images=input_images,
                )
            emit({"id": ig_id, "type": "image_generation_call", "status": "in_progress", "result": None}, done, between)

        emit(*self._message_item(text))
        image_tokens = (
            0 if generation is None else (script.image_output_tokens or _QUALITY_TOKENS[quality] + 100 * partials_sent)
        )
        completed = {
            **shell,
            "status": "completed",
            "completed_at": int(time.time()),
            "output": output,
            "usage": self._usage(script, reasoning),
            **self._tool_usage(script, image_tokens, len(input_images), generation is not None),
        }
        events.append({"type": "response.completed", "response": completed})
        image_gap = script.generation_time / (partials_sent + 1) if generation is not None else 0.0
        return _Run(response_id, shell, events, completed, generation, script.event_delay, image_gap,
                    script.hold_final, script.trickle)

    @staticmethod
    def _tool_with_defaults(tool: JSON) -> JSON:
        if tool.get("type") != "image_generation":
            return tool
        return {
            "type": "image_generation",
            "action": "auto",
            "background": "auto",
            "input_fidelity": None,
            "input_image_mask": None,
            "model": DEFAULT_IMAGE_MODEL,
            "moderation": "auto",
            "output_compression": 100,
            "output_format": "png",
            "partial_images": 0,
            "quality": "auto",
            "size": "auto",
            **tool,
        }

    @staticmethod
    def _colors(script: ImageScript, partials: int, background: str) -> tuple[Color, list[Color]]:
        def pixel(color: Color) -> Color:
            # Transparent requests get a half-transparent solid colour; opaque ones never carry alpha.
            if background == "transparent":
                return (color[0], color[1], color[2], color[3] if len(color) == 4 else 128)
            return (color[0], color[1], color[2])

        colors = list(script.partial_colors or [])[:partials]
        colors += [_from_grey(script.final_color, (i + 1) / (partials + 1)) for i in range(len(colors), partials)]
        return pixel(script.final_color), [pixel(color) for color in colors]

    def _encode(self, color: Color, *, size: str, fmt: str, compression: int) -> bytes:
        width, height = _parse_size(size)
        pixels = (max(8, round(width * self.pixel_scale)), max(8, round(height * self.pixel_scale)))
        if self.image_bytes is None:
            return make_image(color, pixels, fmt, quality=compression)
        key = (color, pixels, fmt, compression)
        if key not in self._images:  # noise images take a fraction of a second: encode each colour once
            self._images[key] = make_noise_image(color, pixels, fmt, self.image_bytes, quality=compression)
        return self._images[key]

    def _b64(self, data: bytes) -> str:
        if self.image_bytes is None:
            return base64.b64encode(data).decode()
        if data not in self._b64s:  # bytes cache their hash, so the cached images are looked up cheaply
            self._b64s[data] = base64.b64encode(data).decode()
        return self._b64s[data]

    @staticmethod
    def _message_item(text: str) -> tuple[JSON, JSON, list[JSON]]:
        msg_id = _new_id("msg")
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        between: list[JSON] = [
            {"type": "response.content_part.added", "item_id": msg_id, "content_index": 0, "part": {**part, "text": ""}}
        ]
        between += [
            {
                "type": "response.output_text.delta",
                "item_id": msg_id,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            }
            for delta in re.findall(r"\S+\s*", text)
        ]
        between += [
            {"type": "response.output_text.done", "item_id": msg_id, "content_index": 0, "text": text, "logprobs": []},
            {"type": "response.content_part.done", "item_id": msg_id, "content_index": 0, "part": part},
        ]
        added = {"id": msg_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
        done = {**added, "status": "completed", "content": [part], "phase": "final_answer"}
        return added, done, between

    @classmethod
    def _tool_usage(cls, script: ImageScript, output_tokens: int, input_images: int, generated: bool) -> JSON:
        if script.tool_usage == "absent":
            return {}
        full = cls._image_usage(output_tokens, input_images, generated)
        if script.tool_usage == "partial":
            # The 2026 recording: some counts only, no details of the input, no total, no web_search.
            partial = {"input_tokens": full["input_tokens"], "output_tokens": output_tokens // 3,
                       "output_tokens_details": {"image_tokens": output_tokens // 3}}
            return {"tool_usage": {"image_gen": partial}}
        return {"tool_usage": {"image_gen": full, "web_search": {"num_requests": 0}}}

    @staticmethod
    def _usage(script: ImageScript, reasoning: bool) -> JSON:
        details: JSON = {"cached_tokens": script.cached_tokens}
        if script.cache_write_tokens:
            details["cache_write_tokens"] = 0
        return {
            "input_tokens": script.input_tokens,
            "input_tokens_details": details,
            "output_tokens": script.output_tokens,
            "output_tokens_details": {"reasoning_tokens": script.output_tokens // 2 if reasoning else 0},
            "total_tokens": script.input_tokens + script.output_tokens,
        }

    @staticmethod
    def _image_usage(output_tokens: int, input_images: int, generated: bool) -> JSON:
        text_tokens = 64 if generated else 0
        image_tokens = 258 * input_images if generated else 0
        return {
            "input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"image_tokens": output_tokens, "text_tokens": 0},
            "total_tokens": text_tokens + image_tokens + output_tokens,
        }

    def _complete(self, run: _Run) -> None:
        if run.response["store"]:
            self.stored[run.response_id] = run.response
        if run.generation is not None:
            self.generations.append(run.generation)

    # ---- sending

    async def _respond(self, request: web.Request, run: _Run, fault: Fault | None) -> web.StreamResponse:
        """Non-streaming: the completed Response as JSON; mid-stream faults map to their closest analogue."""
        if fault is not None:
            if fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()  # never reaches the client
            elif fault.kind in ("nested_error", "flat_error"):
                error = fault.error if fault.kind == "nested_error" else {"type": "server_error", **fault.error}
                raise _ApiError(500, error)
            elif fault.kind == "response_failed":
                return web.json_response({**run.shell, "status": "failed", "error": fault.error})
        self._complete(run)
        return web.json_response(run.response)

    async def _stream(self, request: web.Request, run: _Run, fault: Fault | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        request[_RECORD].status = 200
        fault_at = min(fault.after_event, len(run.events)) if fault and fault.kind in _MID_STREAM else None
        done_items: list[JSON] = []
        try:
            # The trailing None gives a fault at after_event == len(events) its turn after response.completed.
            for seq, event in enumerate([*run.events, None]):
                if seq == fault_at:
                    assert fault is not None
                    if not await self._inject(request, response, fault, seq, {**run.shell, "output": done_items}):
                        return response
                if event is None:
                    break
                if event["type"] == "response.completed":
                    # Like the real API, the response is stored once it is complete, whether or not the
                    # client keeps reading after the completed event.
                    self._complete(run)
                if (run.hold_final is not None and event["type"] == "response.output_item.done"
                        and event["item"]["type"] == "image_generation_call"):
                    await self._hold(response, run, seq, event)  # after the previews, before the finished image
                image = _image_event(event)
                if image is not None and run.image_gap:
                    await asyncio.sleep(run.image_gap)
                frame = _sse({**event, "sequence_number": seq})
                if image is not None:
                    self.event_log.append((run.response_id, *image, time.monotonic()))
                await response.write(frame)
                if event["type"] == "response.output_item.done":
                    done_items.append(event["item"])
                if run.event_delay:
                    await asyncio.sleep(run.event_delay)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading (e.g. broke out of the stream): nothing more to send
        return response

    @staticmethod
    async def _hold(response: web.StreamResponse, run: _Run, seq: int, done: JSON) -> None:
        assert run.hold_final is not None
        while not run.hold_final.is_set():
            if not run.trickle:
                await run.hold_final.wait()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.hold_final.wait(), run.trickle)
            if not run.hold_final.is_set():
                await response.write(_sse({
                    "type": "response.image_generation_call.generating", "item_id": done["item"]["id"],
                    "output_index": done["output_index"], "sequence_number": seq,
                }))

    async def _inject(
        self, request: web.Request, response: web.StreamResponse, fault: Fault, seq: int, snapshot: JSON
    ) -> bool:
        """Send `fault` as the event numbered `seq`; False when the stream is over afterwards."""
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            if fault.then == "continue":
                return True
        elif fault.kind == "drop":
            # Close mid-body (no terminating chunk): the client sees a broken transfer, not a clean end.
            assert request.transport is not None
            request.transport.close()
            return False
        elif fault.kind == "nested_error":
            # As recorded from the real service: the nested error, then response.failed (the SDK raises at the
            # first, so a client never sees the second).
            await response.write(_sse({"type": "error", "sequence_number": seq, "error": fault.error}))
            failed = {**snapshot, "status": "failed", "error": {"code": "server_error", "message": fault.error.get(
                "message", "An error occurred.")}}
            await response.write(_sse({"type": "response.failed", "response": failed, "sequence_number": seq + 1}))
        elif fault.kind == "flat_error":
            await response.write(_sse({"type": "error", **fault.error, "sequence_number": seq}))
        elif fault.kind == "response_failed":
            failed = {**snapshot, "status": "failed", "error": fault.error}
            await response.write(_sse({"type": "response.failed", "response": failed, "sequence_number": seq}))
        await response.write_eof()
        return False
