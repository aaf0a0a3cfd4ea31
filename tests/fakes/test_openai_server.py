"""The fake OpenAI server, driven by the real SDK in strict mode (every payload must parse into its types)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseStreamEvent
from PIL import Image

from tests.fakes.images import Color, close_color, decode, make_image
from tests.fakes.openai_server import (
    DEFAULT_SPEC_PATH,
    FakeOpenAI,
    Fault,
    ImageScript,
    create_response_validator,
    default_spec_path,
    schema_error,
)

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 230)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def make_client(fake: FakeOpenAI, api_key: str = "sk-test") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=fake.base_url,
        max_retries=0,
        _strict_response_validation=True,
        # Plain HTTP to 127.0.0.1: skip loading the CA bundle, which costs ~40 ms per client.
        http_client=openai.DefaultAsyncHttpxClient(verify=False),
    )


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(fake) as sdk:
        yield sdk


def image_tool(**overrides: Any) -> dict[str, Any]:
    return {"type": "image_generation", "quality": "low", "size": "1024x1024", **overrides}


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


async def draw(
    client: openai.AsyncOpenAI, prompt: str = "a cat in a hat", *, model: str = "gpt-5.6", **kwargs: Any
) -> list[ResponseStreamEvent]:
    kwargs.setdefault("tools", [image_tool(partial_images=2)])
    stream = await client.responses.create(model=model, input=prompt, stream=True, **kwargs)
    return [event async for event in stream]


async def draw_until_error(client: openai.AsyncOpenAI, **kwargs: Any) -> tuple[list[str], BaseException]:
    """Stream until the SDK raises; returns the event types seen before the exception."""
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        stream = await client.responses.create(
            model="gpt-5.6", input="a cat", stream=True, tools=[image_tool(partial_images=2)], **kwargs
        )
        async for event in stream:
            seen.append(event.type)
    return seen, caught.value


def expected_types(partials: int, *, reasoning: bool, words: int) -> list[str]:
    added, done = "response.output_item.added", "response.output_item.done"
    reasoning_item = [added, done] if reasoning else []
    image_item = [
        added,
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        *["response.image_generation_call.partial_image"] * partials,
        "response.image_generation_call.completed",
        done,
    ]
    message_item = [
        added,
        "response.content_part.added",
        *["response.output_text.delta"] * words,
        "response.output_text.done",
        "response.content_part.done",
        done,
    ]
    return [
        "response.created",
        "response.in_progress",
        *reasoning_item,
        *image_item,
        *message_item,
        "response.completed",
    ]


# --------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize(("model", "partials"), [("gpt-5.6", 0), ("gpt-5.6", 2), ("gpt-4.1-mini", 3)])
async def test_stream_follows_the_documented_event_order(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, model: str, partials: int
) -> None:
    """The documented event order, sequence numbers from 0, images of the scripted colours, everything recorded."""
    partial_colors = [GREEN, BLUE, RED][:partials]
    fake.queue_script(ImageScript(final_color=RED, partial_colors=partial_colors, revised_prompt="A red cat"))

    events = await draw(
        client, model=model, tools=[image_tool(partial_images=partials)], tool_choice={"type": "image_generation"}
    )

    reasoning = model.startswith("gpt-5")
    assert [e.type for e in events] == expected_types(partials, reasoning=reasoning, words=4)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    partial_events = [e for e in events if e.type == "response.image_generation_call.partial_image"]
    assert [e.partial_image_index for e in partial_events] == list(range(partials))
    for event, color in zip(partial_events, partial_colors, strict=True):
        assert decode(base64.b64decode(event.partial_image_b64)).center == color
    final = events[-1]
    assert final.type == "response.completed"
    response = final.response
    image_item = response.output[1 if reasoning else 0]
    assert image_item.type == "image_generation_call"
    assert image_item.status == "completed" and image_item.action == "generate"
    assert (image_item.size, image_item.quality, image_item.output_format) == ("1024x1024", "low", "png")
    decoded = decode(base64.b64decode(image_item.result or ""))
    assert (decoded.format, decoded.size, decoded.center) == ("PNG", (64, 64), RED)
    assert response.output_text == "Here is your image."
    assert response.model == model and response.tool_choice.type == "image_generation"
    assert response.tools[0].type == "image_generation" and response.tools[0].partial_images == partials
    assert response.usage is not None and response.usage.input_tokens_details.cache_write_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == (20 if reasoning else 0)
    assert response.tool_usage is not None and response.tool_usage.image_gen.output_tokens == 272 + 100 * partials

    [generation] = fake.generations
    assert generation.response_id == response.id and generation.image_call_id == image_item.id
    assert generation.final_image == base64.b64decode(image_item.result or "")
    assert [decode(p).center for p in generation.partial_images] == partial_colors
    assert generation.revised_prompt == image_item.revised_prompt == "A red cat"
    assert response.id in fake.stored
    [request] = fake.requests
    assert request.status == 200 and request.retry_count == 0 and request.json["stream"] is True
    assert request.headers["authorization"] == "Bearer sk-test"
    assert fake.validation_errors == []


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
async def test_images_use_the_requested_format_and_size(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, fmt: str, pil_format: str
) -> None:
    compression = {} if fmt == "png" else {"output_compression": 80}
    fake.queue_script(ImageScript(final_color=BLUE, partial_colors=[GREEN]))
    events = await draw(
        client, tools=[image_tool(partial_images=1, output_format=fmt, size="1536x1024", **compression)]
    )

    partial = next(e for e in events if e.type == "response.image_generation_call.partial_image")
    assert partial.output_format == fmt and partial.size == "1536x1024"
    partial_image = decode(base64.b64decode(partial.partial_image_b64))
    final_image = decode(fake.generations[0].final_image)
    assert partial_image.format == final_image.format == pil_format
    assert final_image.size == (96, 64)
    assert close_color(partial_image.center, GREEN) and close_color(final_image.center, BLUE)


async def test_transparent_background_gives_half_transparent_rgba(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue_script(ImageScript(final_color=GREEN))
    await draw(client, tools=[image_tool(background="transparent", output_format="webp")])
    image = decode(fake.generations[0].final_image)
    assert image.format == "WEBP" and image.mode == "RGBA"
    assert close_color(image.center, (*GREEN, 128))


async def test_fewer_partials_than_requested(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue_script(ImageScript(partials_sent=1))
    events = await draw(client, tools=[image_tool(partial_images=3)])
    assert sum(e.type == "response.image_generation_call.partial_image" for e in events) == 1
    assert len(fake.generations[0].partial_images) == 1


async def test_default_scripts_give_distinct_colours_and_revised_prompts(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    await draw(client, "a red fox")
    await draw(client, "a blue whale")
    first, second = fake.generations
    assert first.final_color != second.final_color
    assert decode(second.final_image).center == second.final_color
    assert second.revised_prompt == "A detailed rendering of: a blue whale"


async def test_no_image_tool_means_text_only(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    events = await draw(client, tools=[])
    assert "response.image_generation_call.generating" not in [e.type for e in events]
    assert fake.generations == []


async def test_stream_helper_accepts_the_sequence(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """responses.stream() enforces the events' id and index invariants; the fake's stream satisfies them."""
    async with client.responses.stream(model="gpt-5.6", input="a cat", tools=[image_tool(partial_images=1)]) as s:
        async for _ in s:
            pass
        final = await s.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "image_generation_call", "message"]


async def test_non_stream_returns_the_completed_response(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue_script(ImageScript(final_color=RED, text="Done!"))
    response = await client.responses.create(model="gpt-5.4-mini", input="a cat", tools=[image_tool()])
    assert response.status == "completed" and response.output_text == "Done!"
    [_, image_item, _] = response.output
    assert image_item.type == "image_generation_call"
    assert decode(base64.b64decode(image_item.result or "")).center == RED
    assert fake.generations[0].partial_images == []


async def test_previous_response_chain_and_retrieve(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    first = (await draw(client))[-1]
    assert first.type == "response.completed"
    source = make_image(GREEN, (32, 32))
    second = await client.responses.create(
        model="gpt-5.6",
        previous_response_id=first.response.id,
        tools=[image_tool()],
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "make it green"},
                    {"type": "input_image", "image_url": data_url(source), "detail": "auto"},
                ],
            }
        ],
    )
    assert second.previous_response_id == first.response.id
    generation = fake.generations[1]
    assert generation.previous_response_id == first.response.id and generation.input_images == [source]
    assert generation.revised_prompt == "A detailed rendering of: make it green"
    assert second.output[1].type == "image_generation_call" and second.output[1].action == "edit"

    retrieved = await client.responses.retrieve(second.id)
    assert retrieved.output[1].type == "image_generation_call" and retrieved.output[1].result is None
    assert second.output[1].result is not None  # retrieve must not have mutated the stored copy's source

    fake.forget_response(first.response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="gpt-5.6", input="again", previous_response_id=first.response.id)
    assert caught.value.code == "previous_response_not_found" and caught.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(first.response.id)


async def test_item_reference_to_a_generated_image(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    first = await client.responses.create(model="gpt-5.6", input="a cat", tools=[image_tool()])
    image_id = first.output[1].id
    second = await client.responses.create(
        model="gpt-5.6",
        tools=[image_tool()],
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "now realistic"}]},
            {"type": "item_reference", "id": image_id},
        ],
    )
    assert second.output[1].type == "image_generation_call" and second.output[1].action == "edit"
    # The model sees the referenced image as an input image.
    assert fake.generations[-1].input_images == [fake.generations[0].final_image]
    # An id OpenAI doesn't have (never stored, or expired): 404 with param "input" and no code, as the real API.
    with pytest.raises(openai.NotFoundError) as caught:
        await client.responses.create(model="gpt-5.6", input=[{"type": "item_reference", "id": "ig_missing"}])
    assert (caught.value.param, caught.value.code) == ("input", None)
    assert "Item with id 'ig_missing' not found. Items are not persisted" in caught.value.message


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("tools", "input_", "param"),
    [
        ([image_tool(partial_images=5)], "x", "tools[0].partial_images"),
        ([image_tool(quality="ultra")], "x", "tools[0].quality"),
        (
            [image_tool()],
            [{"role": "user", "content": [{"type": "input_image", "image_url": data_url(make_image(RED, (8, 8)))}]}],
            "input[0].content[0].detail",
        ),
        (
            [image_tool()],
            [{"role": "user", "content": "x"}, {"type": "image_generation_call", "id": "ig_1"}],
            "input[1].type",
        ),
        ([image_tool(partial_image=2)], "x", "tools[0].partial_image"),
        ([image_tool()], "x", "partial_images"),
    ],
    ids=[
        "partial_images_5",
        "quality_ultra",
        "input_image_without_detail",
        "image_call_reference",
        "unknown_tool_parameter",
        "unknown_top_level_parameter",
    ],
)
async def test_schema_violations_are_rejected_and_recorded(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, tools: list[Any], input_: Any, param: str
) -> None:
    extra = {"partial_images": 2} if param == "partial_images" else {}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="gpt-5.6", input=input_, tools=tools, stream=True, extra_body=extra)
    assert caught.value.param == param
    assert len(fake.validation_errors) == 1 and param in fake.validation_errors[0]
    assert fake.generations == [] and fake.requests[0].status == 400


@pytest.mark.parametrize(
    ("tool", "input_", "code"),
    [
        (image_tool(background="transparent", output_format="jpeg"), "x", "invalid_value"),
        (image_tool(output_compression=50), "x", "invalid_value"),
        (image_tool(model="gpt-image-9"), "x", "invalid_value"),
        (image_tool(model="gpt-5.6"), "x", "invalid_value"),
        (
            image_tool(),
            [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "data:image/png;base64,%%%", "detail": "auto"}],
                }
            ],
            "invalid_base64_image",
        ),
        (
            image_tool(),
            [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": data_url(b"not an image"), "detail": "auto"}],
                }
            ],
            "invalid_image",
        ),
    ],
    ids=[
        "transparent_jpeg",
        "compression_png",
        "unknown_image_model",
        "mainline_model_as_image_model",
        "bad_base64",
        "not_an_image",
    ],
)
async def test_semantic_errors_are_rejected(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, tool: dict[str, Any], input_: Any, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="gpt-5.6", input=input_, tools=[tool])
    assert caught.value.code == code
    assert fake.validation_errors == []  # schema-valid: the bot may legitimately send these


async def test_unknown_model_is_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.responses.create(model="gpt-9", input="x")
    assert caught.value.code == "model_not_found" and "`gpt-9`" in caught.value.message


async def test_wrong_api_key_is_401(fake: FakeOpenAI) -> None:
    async with make_client(fake, api_key="sk-wrong") as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.responses.create(model="gpt-5.6", input="x")
    assert caught.value.code == "invalid_api_key"


async def test_models_retrieve(client: openai.AsyncOpenAI) -> None:
    model = await client.models.retrieve("gpt-image-2")
    assert (model.id, model.object, model.shutdown_date) == ("gpt-image-2", "model", None)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.models.retrieve("dall-e-9")
    assert caught.value.code == "model_not_found"


# --------------------------------------------------------------------------- faults


async def test_moderation_400(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.moderation_400(categories=("violence",)))
    with pytest.raises(openai.BadRequestError) as caught:
        await draw(client)
    error = caught.value
    assert error.code == "moderation_blocked" and error.type == "image_generation_user_error"
    assert isinstance(error.body, dict)
    assert error.body["moderation_details"] == {"moderation_stage": "input", "categories": ["violence"]}
    assert error.request_id is not None and error.request_id.startswith("req_")
    await draw(client)  # the fault was consumed; the queued script was not
    assert len(fake.generations) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault.rate_limited(retry_after=1), "rate_limit_exceeded"), (Fault.insufficient_quota(), "insufficient_quota")],
)
async def test_rate_limits(fake: FakeOpenAI, client: openai.AsyncOpenAI, fault: Fault, code: str) -> None:
    fake.add_fault(fault)
    with pytest.raises(openai.RateLimitError) as caught:
        await draw(client)
    assert caught.value.code == code
    assert caught.value.response.headers.get("retry-after") == fault.headers.get("Retry-After")


async def test_server_error_then_success_with_one_retry(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.server_error(status=503))
    fake.queue_script(ImageScript(final_color=RED))
    events = await draw(client.with_options(max_retries=1))
    assert events[-1].type == "response.completed"
    assert [(r.status, r.retry_count) for r in fake.requests] == [(503, 0), (200, 1)]
    assert fake.generations[0].final_color == RED


async def test_http_fault_times_repeats(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.server_error(times=2))
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await draw(client)
    await draw(client)
    assert [r.status for r in fake.requests] == [500, 500, 200]


async def test_model_not_found_fault(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.model_not_found("gpt-5.6"))
    with pytest.raises(openai.NotFoundError) as caught:
        await draw(client)
    assert caught.value.code == "model_not_found"


async def test_nested_stream_error_raises_api_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.nested_error(after_event=7))
    seen, error = await draw_until_error(client)
    assert len(seen) == 7
    assert type(error) is openai.APIError and error.code == "server_error"
    assert fake.generations == [] and fake.stored == {}


async def test_flat_stream_error_is_yielded(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.flat_error(after_event=7, code="rate_limit_exceeded"))
    events = await draw(client)
    assert len(events) == 8
    last = events[-1]
    assert last.type == "error" and last.code == "rate_limit_exceeded" and last.sequence_number == 7


@pytest.mark.parametrize("code", ["server_error", "image_content_policy_violation"])
async def test_response_failed_is_yielded(fake: FakeOpenAI, client: openai.AsyncOpenAI, code: str) -> None:
    fake.add_fault(Fault.response_failed(after_event=7, code=code))
    events = await draw(client)
    last = events[-1]
    assert last.type == "response.failed" and last.response.status == "failed"
    assert last.response.error is not None and last.response.error.code == code
    assert [item.type for item in last.response.output] == ["reasoning"]
    assert fake.generations == []


def test_response_failed_rejects_codes_the_sdk_cannot_parse() -> None:
    with pytest.raises(ValueError, match="ResponseError codes"):
        Fault.response_failed(code="moderation_blocked")


async def test_failed_image_item_then_completed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.image_failed(categories=("sexual",)))
    events = await draw(client)
    done = [e for e in events if e.type == "response.output_item.done" and e.item.type == "image_generation_call"]
    [item] = [e.item for e in done]
    assert item.type == "image_generation_call" and item.status == "failed" and item.result is None
    assert item.error is not None and item.error.code == "moderation_blocked"
    assert item.error.moderation_details is not None and item.error.moderation_details.categories == ["sexual"]
    assert "response.image_generation_call.partial_image" not in [e.type for e in events]
    assert events[-1].type == "response.completed" and fake.generations == []


async def test_drop_raises_connection_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.drop(after_event=8))
    seen, error = await draw_until_error(client)
    assert type(error) is openai.APIConnectionError
    assert len(seen) == 8 and seen[-1] == "response.image_generation_call.partial_image"
    assert fake.generations == []


async def test_stall_raises_timeout(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.stall(seconds=5, after_event=1))
    seen, error = await draw_until_error(client, timeout=0.5)
    # The client's read timeout (0.5 s), not the stall's end (5 s), ended it: the stall never resumed the stream.
    assert type(error) is openai.APITimeoutError and seen == ["response.created"]


async def test_stall_then_end_stops_without_completing(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.stall(seconds=0.05, after_event=4, then="end"))
    events = await draw(client)
    assert len(events) == 4 and fake.generations == []


async def test_client_leaving_early_is_quiet(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """The bot may stop reading mid-stream; the fake must not log errors or record a generation."""
    fake.queue_script(ImageScript(event_delay=0.01))
    stream = await client.responses.create(model="gpt-5.6", input="x", tools=[image_tool()], stream=True)
    async for event in stream:
        if event.sequence_number == 2:
            break
    await stream.close()
    assert fake.generations == [] and fake.requests[0].status == 200


@pytest.mark.parametrize(
    ("fault", "raised"),
    [(Fault.drop(), openai.APIConnectionError), (Fault.nested_error(), openai.InternalServerError)],
)
async def test_mid_stream_faults_on_non_streaming_requests(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, fault: Fault, raised: type[Exception]
) -> None:
    fake.add_fault(fault)
    with pytest.raises(raised):
        await client.responses.create(model="gpt-5.6", input="x", tools=[image_tool()])
    assert fake.requests[0].status == (0 if fault.kind == "drop" else 500)
    fake.add_fault(Fault.response_failed(code="server_error"))
    response = await client.responses.create(model="gpt-5.6", input="x", tools=[image_tool()])
    assert response.status == "failed" and response.error is not None


async def test_short_stall_then_continue(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.add_fault(Fault.stall(seconds=0.05, after_event=3))
    events = await draw(client)
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


# --------------------------------------------------------------------------- spec plumbing


def test_validator_is_built_once_and_accepts_a_valid_edit() -> None:
    validator = create_response_validator(default_spec_path().resolve())
    assert create_response_validator(default_spec_path().resolve()) is validator
    body = {
        "model": "gpt-5.6",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "make it blue"},
                    {"type": "input_image", "image_url": data_url(make_image(RED, (8, 8))), "detail": "auto"},
                ],
            }
        ],
        "tools": [image_tool(partial_images=2)],
        "tool_choice": {"type": "image_generation"},
        "stream": True,
    }
    assert schema_error(validator, body) is None


def test_spec_path_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("THREADPAINT_OPENAI_SPEC", raising=False)
    assert default_spec_path() == DEFAULT_SPEC_PATH
    monkeypatch.setenv("THREADPAINT_OPENAI_SPEC", str(tmp_path / "spec.json"))
    assert default_spec_path() == tmp_path / "spec.json"


@pytest.mark.parametrize(
    ("color", "fmt", "mode", "center"),
    [
        ((10, 20, 30, 40), "png", "RGBA", (10, 20, 30, 40)),
        ((10, 20, 30, 40), "jpeg", "RGB", (10, 20, 30)),  # JPEG cannot carry alpha
        ((200, 100, 50), "webp", "RGB", (200, 100, 50)),
    ],
)
def test_image_helpers_round_trip(color: Color, fmt: str, mode: str, center: tuple[int, ...]) -> None:
    image = decode(make_image(color, (16, 8), fmt))
    assert (image.format, image.size, image.mode) == (fmt.upper(), (16, 8), mode)
    assert close_color(image.center, center)


# --------------------------------------------------------------------------- shapes recorded from the real service


def bot_client(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    """The bot's own client (bot.openai_adapter.client), in strict mode like the harness's."""
    from bot.openai_adapter.client import ImageStreamingOpenAI, openai_http_client

    return ImageStreamingOpenAI(
        api_key="sk-test", base_url=fake.base_url, max_retries=0, _strict_response_validation=True,
        http_client=openai_http_client(4),
    )


async def raw_events(fake: FakeOpenAI, **tool: Any) -> list[dict[str, Any]]:
    """The stream as sent, parsed as plain JSON (no SDK in between)."""
    import json

    import aiohttp

    body = {"model": "gpt-5.6", "input": "a cat", "stream": True, "tools": [image_tool(partial_images=2, **tool)]}
    async with aiohttp.ClientSession() as session, session.post(
        f"{fake.base_url}/responses", json=body, headers={"Authorization": "Bearer sk-test"}
    ) as response:
        text = await response.text()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("shape", ["complete", "partial", "absent"])
async def test_tool_usage_complete_partial_or_absent(fake: FakeOpenAI, shape: str) -> None:
    fake.queue_script(ImageScript(tool_usage=shape))  # type: ignore[arg-type]
    completed = (await raw_events(fake))[-1]
    assert completed["type"] == "response.completed"
    tool_usage = completed["response"].get("tool_usage")
    if shape == "absent":
        assert tool_usage is None
    elif shape == "partial":
        assert set(tool_usage) == {"image_gen"}
        assert set(tool_usage["image_gen"]) == {"input_tokens", "output_tokens", "output_tokens_details"}
    else:
        assert set(tool_usage) == {"image_gen", "web_search"} and "total_tokens" in tool_usage["image_gen"]
    # The bot's client parses every shape under strict validation, without inventing image tokens.
    fake.queue_script(ImageScript(tool_usage=shape))  # type: ignore[arg-type]
    async with bot_client(fake) as client:
        events = await draw(client)
    image_gen = getattr(events[-1].response.tool_usage, "image_gen", None)
    expected = {"complete": 272 + 200, "partial": (272 + 200) // 3, "absent": None}[shape]
    assert (image_gen.output_tokens if image_gen else None) == expected


async def test_usage_without_cache_write_tokens(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue_script(ImageScript(cache_write_tokens=False))
    completed = (await raw_events(fake))[-1]
    assert completed["response"]["usage"]["input_tokens_details"] == {"cached_tokens": 0}
    # The SDK's type requires the field: strict validation of the plain SDK fails, as with the real service.
    fake.queue_script(ImageScript(cache_write_tokens=False))
    with pytest.raises(openai.APIResponseValidationError):
        await draw(client)
    fake.queue_script(ImageScript(cache_write_tokens=False))
    async with bot_client(fake) as bot:
        events = await draw(bot)
    assert events[-1].type == "response.completed" and events[-1].response.usage.input_tokens == 120


async def test_keepalive_events_between_partials(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue_script(ImageScript(keepalives=2))
    sent = await raw_events(fake)
    kinds = [event["type"] for event in sent]
    first = kinds.index("response.image_generation_call.partial_image")
    assert kinds[first + 1 : first + 4] == ["keepalive", "keepalive", "response.image_generation_call.partial_image"]
    assert sent[first + 1] == {"type": "keepalive", "sequence_number": first + 1}
    fake.queue_script(ImageScript(keepalives=2))
    with pytest.raises(openai.APIResponseValidationError):  # the plain SDK has no type for them
        await draw(client)
    fake.queue_script(ImageScript(keepalives=2))
    async with bot_client(fake) as bot:
        events = await draw(bot)
    assert "keepalive" not in [e.type for e in events] and events[-1].type == "response.completed"
    assert len(events) == len(sent) - 4


async def test_nested_error_is_followed_by_response_failed(fake: FakeOpenAI) -> None:
    fake.add_fault(Fault.nested_error(after_event=5))
    sent = await raw_events(fake)
    assert [event["type"] for event in sent[-2:]] == ["error", "response.failed"]
    assert sent[-2]["error"]["code"] == "server_error" and sent[-1]["response"]["status"] == "failed"
    assert [event["sequence_number"] for event in sent[-2:]] == [5, 6]
# --------------------------------------------------------------------------- sizes, fidelity, masks (issue 14)


@pytest.mark.parametrize(
    ("tool", "param", "code"),
    [
        ({"size": "1536x864", "model": "gpt-image-1.5"}, "tools[0].size", "invalid_value"),  # standard sizes only
        ({"size": "1000x1000"}, "tools[0].size", "invalid_value"),  # not divisible by 16
        ({"size": "3200x1024"}, "tools[0].size", "invalid_value"),  # wider than 3:1
        ({"size": "4096x2304"}, "tools[0].size", "invalid_value"),  # over 3840x2160
        ({"input_fidelity": "high"}, "tools[0].input_fidelity", "unsupported_parameter"),  # gpt-image-2 refuses it
        ({"input_fidelity": "high", "model": "gpt-image-1-mini"}, "tools[0].input_fidelity", "unsupported_parameter"),
    ],
)
async def test_sizes_and_fidelity_the_image_model_cannot_take_are_refused(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, tool: dict[str, Any], param: str, code: str
) -> None:
    fake.models["gpt-image-1-mini"] = {**fake.models["gpt-image-2"], "id": "gpt-image-1-mini"}
    with pytest.raises(openai.BadRequestError) as caught:
        await draw(client, tools=[image_tool(**tool)])
    assert (caught.value.param, caught.value.code) == (param, code)
    assert fake.generations == []


async def test_arbitrary_size_gives_an_image_of_that_shape(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    await draw(client, tools=[image_tool(size="2048x1152", input_fidelity=None)])
    assert decode(fake.generations[-1].final_image).size == (128, 72)
    fidelity = await draw(client, tools=[image_tool(model="gpt-image-1.5", input_fidelity="high")])
    assert fidelity[-1].type == "response.completed"


def _mask(size: tuple[int, int], mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("mask", "images", "message"),
    [
        (_mask((32, 32), "RGB"), 1, "alpha channel"),
        (_mask((16, 32)), 1, "does not match the image size"),
        (_mask((32, 32)), 0, "requires an input image"),
    ],
)
async def test_bad_masks_are_refused(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, mask: bytes, images: int, message: str
) -> None:
    content: list[Any] = [{"type": "input_text", "text": "a pool"}]
    content += [{"type": "input_image", "image_url": data_url(make_image(RED, (32, 32))), "detail": "auto"}] * images
    tool = image_tool(input_image_mask={"image_url": data_url(mask)})
    with pytest.raises(openai.BadRequestError) as caught:
        await draw(client, [{"role": "user", "content": content}], tools=[tool])  # type: ignore[arg-type]
    assert message in caught.value.message and caught.value.param == "tools[0].input_image_mask"


async def test_a_good_mask_is_recorded(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    content = [{"type": "input_text", "text": "a pool"},
               {"type": "input_image", "image_url": data_url(make_image(RED, (32, 32))), "detail": "auto"}]
    tool = image_tool(input_image_mask={"image_url": data_url(_mask((32, 32)))})
    await draw(client, [{"role": "user", "content": content}], tools=[tool])  # type: ignore[arg-type]
    assert fake.generations[-1].mask == _mask((32, 32))
