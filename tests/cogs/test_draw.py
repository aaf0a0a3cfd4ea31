"""/draw end to end: the real bot, the fake Discord and the fake OpenAI."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import openai
import pytest

from bot.openai_adapter import image_events
from tests.fakes.discord_state import CALLBACK
from tests.fakes.images import close_color, decode
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness

PROMPT = "a gray tabby cat hugging an otter with an orange scarf"
FINAL = (30, 140, 220)
PARTIALS = [(90, 90, 90), (60, 120, 180)]


def responses_requests(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def test_draw_in_text_channel_streams_previews_then_final_and_opens_thread(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.queue_script(
        ImageScript(final_color=FINAL, partial_colors=PARTIALS, revised_prompt="A cozy tabby", event_delay=0.02)
    )

    interaction = await harness.command(running, "draw", {"prompt": PROMPT})

    # Acknowledged by deferring (the fake enforces Discord's 3 seconds; that the acknowledgement never waits for
    # the database is pinned by tests/cogs/test_slow_admission.py, without a stopwatch).
    assert interaction.ack_type == 5 and interaction.acked_at is not None

    # The exact request body OpenAI received.
    [body] = responses_requests(harness)
    assert body == {
        "model": "gpt-5.4-mini",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}],
        "tools": [{"type": "image_generation", "size": "auto", "quality": "auto", "background": "auto",
                   "output_format": "png", "action": "generate", "partial_images": 2}],
        "tool_choice": {"type": "image_generation"},
        "store": True,
        "stream": True,
        "safety_identifier": hashlib.sha256(f"threadpaint:{fd.user_id}".encode()).hexdigest()[:32],
    }

    # The reply went: status line, preview 1, preview 2, final — each replacing the last.
    reply = fd.messages[interaction.original_message_id]
    versions = reply.versions()
    shown = [v for v in versions if not v.loading]
    assert shown[0].content.startswith("🎨 Drawing") and not shown[0].attachments
    previews = [v for v in shown if v.attachments and not v.embeds]
    assert [v.content for v in previews] == ["🎨 Drawing… preview 1 of 2", "🎨 Drawing… preview 2 of 2"]
    for version, color in zip(previews, PARTIALS, strict=True):
        [attachment] = version.attachments
        assert decode(attachment.data).center[:3] == color
    [generation] = harness.openai.generations
    for version, partial in zip(previews, generation.partial_images, strict=True):
        assert version.attachments[0].data == partial

    # The final: the image from output_item.done (not the last partial), with both prompts in one message.
    final = versions[-1]
    [attachment] = final.attachments
    image = decode(attachment.data)
    assert image.format == "PNG" and image.center[:3] == FINAL
    assert attachment.data == generation.final_image
    [embed] = final.embeds
    assert PROMPT in embed["description"] and "A cozy tabby" in embed["description"]
    assert embed["image"]["url"] == f"attachment://{attachment.filename}"
    assert not final.content

    # A public thread opened on the reply, named after the prompt.
    [thread] = [t for t in fd.threads() if int(t["id"]) == reply.id]
    assert thread["type"] == 11 and thread["name"] == PROMPT
    assert int(thread["parent_id"]) == fd.text_channel_id

    # The conversation is stored with the response id and the image call id as its head.
    chain = await running.store.get_chain(reply.id)
    assert chain is not None and chain.kind == "thread" and chain.owner_id == fd.user_id
    head = await running.store.get_head(reply.id)
    assert head is not None
    assert (head.response_id, head.image_call_id) == (generation.response_id, generation.image_call_id)
    assert head.revised_prompt == "A cozy tabby" and head.status == "done"
    assert head.reply_message_id == reply.id and head.usage.image_output_tokens > 0


async def test_draw_options_reach_the_tool_and_format_is_honoured(harness: Harness) -> None:
    running = await harness.start_bot(IMAGE_MODEL="gpt-image-2", PARTIAL_IMAGES="0")
    harness.openai.queue_script(ImageScript(final_color=(250, 10, 10)))
    interaction = await harness.command(
        running, "draw",
        {"prompt": "a red square", "size": "1536x1024", "quality": "low", "background": "opaque",
         "format": "webp", "compression": 80},
    )
    [body] = responses_requests(harness)
    assert body["tools"] == [{"type": "image_generation", "size": "1536x1024", "quality": "low",
                              "background": "opaque", "output_format": "webp", "output_compression": 80,
                              "model": "gpt-image-2", "action": "generate", "partial_images": 0}]
    reply = harness.discord.messages[interaction.original_message_id]
    # partial_images=0: no previews, just the status line and the final.
    assert [bool(v.attachments) for v in reply.versions() if not v.loading] == [False, True]
    image = decode(reply.attachments[0].data)
    assert image.format == "WEBP" and close_color(image.center[:3], (250, 10, 10))
    assert reply.attachments[0].filename.endswith(".webp")


async def test_a_repeated_delivery_of_one_interaction_runs_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    admissions: list[int | None] = []
    create_turn = running.store.create_turn

    async def counted(*args: Any, **kwargs: Any) -> int | None:
        admissions.append(await create_turn(*args, **kwargs))
        return admissions[-1]

    monkeypatch.setattr(running.store, "create_turn", counted)
    harness.openai.queue_script(ImageScript(final_color=FINAL, event_delay=0.02))
    draw = await fd.invoke_slash("draw", {"prompt": PROMPT})
    await fd.dispatch("INTERACTION_CREATE", draw.payload)  # Discord delivers the same interaction again
    await fd.wait_for(lambda: draw.original_message_id is not None
                      and bool(fd.messages[draw.original_message_id].embeds), what="the image")
    await running.bot.service.wait_idle()
    assert len(responses_requests(harness)) == 1
    answers = [c for c in fd.route_calls("POST", CALLBACK) if c.params.get("interaction_id") == str(draw.id)]
    assert [c.status for c in answers] == [200]  # acknowledged once, not twice
    assert running.tracker.errors == {}
    assert len(admissions) == 1  # the repeat was recognised at once, before it reached the database
    assert len([m for m in fd.messages.values() if m.attachments and m.embeds]) == 1


async def test_impossible_options_get_a_private_error_and_no_api_call(harness: Harness) -> None:
    running = await harness.start_bot()
    interaction = await harness.command(
        running, "draw", {"prompt": "a ghost", "background": "transparent", "format": "jpeg"}
    )
    assert interaction.ack_type == 4 and interaction.ephemeral
    message = harness.discord.messages[interaction.original_message_id]
    assert "transparent" in message.content and "png or webp" in message.content
    assert responses_requests(harness) == []


async def test_blank_prompt_gets_a_private_error(harness: Harness) -> None:
    running = await harness.start_bot()
    interaction = await harness.command(running, "draw", {"prompt": "   "})
    assert interaction.ephemeral
    assert "empty" in harness.discord.messages[interaction.original_message_id].content
    assert responses_requests(harness) == []


async def test_request_bodies_are_json_serialisable_snapshots(harness: Harness) -> None:
    """Sanity check on the recording itself: the fake keeps the body exactly as sent."""
    running = await harness.start_bot()
    await harness.command(running, "draw", {"prompt": "x"})
    [body] = responses_requests(harness)
    assert json.loads(json.dumps(body)) == body


async def test_overlong_prompt_gets_a_private_error(harness: Harness) -> None:
    """Discord's client enforces the 4000 limit, but a raw API call can still send more."""
    await harness.start_bot()
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "x" * 4500})
    await harness.discord.wait_for(lambda: interaction.ack_type is not None, what="the error reply")
    assert interaction.ephemeral
    assert "4500 characters" in harness.discord.messages[interaction.original_message_id].content
    assert responses_requests(harness) == []


async def test_compression_out_of_range_gets_a_private_error(harness: Harness) -> None:
    await harness.start_bot()
    interaction = await harness.discord.invoke_slash("draw", {"prompt": "x", "format": "jpeg", "compression": 101})
    await harness.discord.wait_for(lambda: interaction.ack_type is not None, what="the error reply")
    assert "from 0 to 100" in harness.discord.messages[interaction.original_message_id].content
    assert responses_requests(harness) == []


async def test_megabyte_images_take_the_fast_parsing_path_and_arrive_byte_exact(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Realistic sizes: each image event is far past the length where the bot slices the base64 out of the JSON
    # instead of parsing it (bot.openai_adapter.image_events), so that path runs end to end here.
    harness.openai.pixel_scale, harness.openai.image_bytes = 1 / 2, 700_000
    # Spies on the two slow paths the fast one replaces: a JSON scan of a whole image event, and the SDK's own
    # event building (the fallback for anything the fast path does not take).
    parsed_lengths: list[int] = []
    real_json = image_events.json

    class JsonSpy:
        @staticmethod
        def loads(text: str) -> object:
            parsed_lengths.append(len(text))
            return real_json.loads(text)

    monkeypatch.setattr(image_events, "json", JsonSpy)
    fallback_types: list[str] = []
    sdk_build = openai.AsyncOpenAI._process_response_data

    def spy(self: openai.AsyncOpenAI, *, data: object, cast_to: type, response: object) -> object:
        fallback_types.append(str(data.get("type")) if isinstance(data, dict) else type(data).__name__)
        return sdk_build(self, data=data, cast_to=cast_to, response=response)  # type: ignore[arg-type]

    monkeypatch.setattr(openai.AsyncOpenAI, "_process_response_data", spy)
    running = await harness.start_bot(PREVIEW_INTERVAL="0")
    harness.openai.queue_script(ImageScript(final_color=FINAL, partial_colors=PARTIALS, event_delay=0.05))

    interaction = await harness.command(running, "draw", {"prompt": PROMPT, "size": "1536x1024"})

    [generation] = harness.openai.generations
    images = [*generation.partial_images, generation.final_image]
    assert min(len(image) for image in images) > 500_000
    versions = harness.discord.messages[interaction.original_message_id].versions()
    uploaded = [v.attachments[0].data for v in versions if v.attachments]
    assert uploaded == images  # every preview, then the final, exactly as OpenAI sent them
    assert decode(uploaded[-1]).size == (768, 512)
    head = await running.store.get_head(interaction.original_message_id)
    assert head is not None and head.response_id == generation.response_id and head.status == "done"
    # Every image event was parsed with its base64 sliced out (only small JSON was scanned), and built as its own
    # event class: nothing that carries an image went through the SDK's generic path.
    assert parsed_lengths and max(parsed_lengths) < image_events.LONG_STRING
    image_types = {"response.image_generation_call.partial_image", "response.output_item.done", "response.completed"}
    assert not image_types & set(fallback_types), fallback_types
