"""/edit results: two earlier results combined by id (issue 14, item 3): item_references, bytes as the fallback."""

from __future__ import annotations

from bot.discord_adapter import references
from bot.discord_adapter.surface import THREAD_HINT
from tests.cogs.test_references import CAT, OTTER, cdn_downloads, posts, two_results
from tests.fakes.discord_state import PERMISSIONS, FakeInteraction, channel_payload, snowflake
from tests.fakes.images import close_color, decode
from tests.harness import Harness

INSTRUCTION = "put the cat from the first picture next to the otter from the second"


def link(harness: Harness, message_id: int, channel_id: int | None = None, guild_id: int | None = None) -> str:
    fd = harness.discord
    return (f"https://discord.com/channels/{guild_id or fd.guild_id}/{channel_id or fd.text_channel_id}/"
            f"{message_id}")


def user_message(text: str) -> dict:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def private_text(harness: Harness, interaction: FakeInteraction) -> str:
    assert interaction.ephemeral and interaction.original_message_id is not None
    return harness.discord.messages[interaction.original_message_id].content


async def test_edit_results_sends_two_results_as_item_references_in_order(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    cat, otter = await two_results(harness, running)
    cat_gen, otter_gen = harness.openai.generations

    both = f"{link(harness, cat.original_message_id)} {link(harness, otter.original_message_id)}"
    edit = await harness.command(running, "edit", {"instruction": INSTRUCTION, "results": both})

    body = posts(harness)[-1]
    assert body["input"] == [
        {"type": "item_reference", "id": cat_gen.image_call_id},
        {"type": "item_reference", "id": otter_gen.image_call_id},
        user_message(INSTRUCTION),
    ]
    assert "previous_response_id" not in body and body["tools"][0]["action"] == "edit"
    seen = harness.openai.generations[-1].input_images
    assert len(seen) == 2
    assert all(close_color(decode(image).center[:3], colour) for image, colour in zip(seen, (CAT, OTTER), strict=True))
    assert cdn_downloads(harness) == 0
    reply = fd.messages[edit.original_message_id]
    assert reply.attachments and fd.channels[reply.id]["parent_id"] == str(fd.text_channel_id)  # a new thread
    turn = await running.store.turn_for_interaction(edit.id)
    assert turn is not None and turn.status == "done" and turn.chain_id == reply.id


async def test_a_result_openai_no_longer_has_is_sent_from_discord_with_the_other(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    cat, otter = await two_results(harness, running)
    cat_gen, otter_gen = harness.openai.generations
    harness.openai.forget_response(cat_gen.response_id)  # as after OpenAI's 30 days

    both = f"{link(harness, cat.original_message_id)} {link(harness, otter.original_message_id)}"
    edit = await harness.command(running, "edit", {"instruction": INSTRUCTION, "results": both})

    refused, resent = posts(harness)[-2:]
    assert refused["input"][:2] == [{"type": "item_reference", "id": cat_gen.image_call_id},
                                    {"type": "item_reference", "id": otter_gen.image_call_id}]
    assert [r.status for r in harness.openai.requests if r.method == "POST"][-2:] == [404, 200]
    [message] = resent["input"]
    text, *images = message["content"]
    assert text == {"type": "input_text", "text": INSTRUCTION}
    assert [image["type"] for image in images] == ["input_image", "input_image"]
    seen = harness.openai.generations[-1].input_images
    assert len(seen) == 2  # both, in the member's order
    assert all(close_color(decode(image).center[:3], colour) for image, colour in zip(seen, (CAT, OTTER), strict=True))
    assert cdn_downloads(harness) == 2
    footer = fd.messages[edit.original_message_id].embeds[0]["footer"]["text"]
    assert "OpenAI no longer had that earlier image, so I sent it again from Discord." in footer


async def test_in_a_thread_results_join_its_latest_image(harness: Harness) -> None:
    running = await harness.start_bot()
    cat, otter = await two_results(harness, running)
    cat_gen, otter_gen = harness.openai.generations

    await harness.command(running, "edit", {"instruction": INSTRUCTION, "results": link(
        harness, otter.original_message_id)}, channel_id=cat.original_message_id)

    body = posts(harness)[-1]
    assert body["previous_response_id"] == cat_gen.response_id
    assert body["input"] == [{"type": "item_reference", "id": otter_gen.image_call_id}, user_message(INSTRUCTION)]


async def test_links_the_member_may_not_use_are_refused_before_anything_is_paid(harness: Harness) -> None:
    fd = harness.discord
    hidden = snowflake()
    fd.channels[hidden] = channel_payload(hidden, 0, "staff", guild_id=fd.guild_id, position=3)
    fd.channels[hidden]["permission_overwrites"] = [
        {"id": str(fd.guild_id), "type": 0, "allow": "0", "deny": str(PERMISSIONS["view_channel"])},
    ]
    running = await harness.start_bot()
    cat, _ = await two_results(harness, running)
    hint = next(m for m in fd.messages.values()
                if m.channel_id == cat.original_message_id and m.content == str(THREAD_HINT))
    paid = len(posts(harness))

    # Bob (not the server's owner, who sees every channel) links a result in a channel he can't see.
    bob = await harness.command(running, "edit", {"instruction": INSTRUCTION, "results": link(
        harness, snowflake(), channel_id=hidden)}, user_id=fd.other_user_id)
    assert private_text(harness, bob) == str(references.NOT_VISIBLE)
    cases = {
        link(harness, cat.original_message_id, guild_id=snowflake()): references.ELSEWHERE,
        link(harness, hint.id, channel_id=cat.original_message_id): references.NOT_A_RESULT,
        link(harness, snowflake()): references.GONE,
        "the cat one": references.NO_LINKS,
        " ".join([link(harness, cat.original_message_id)] * 5):
            "I can use at most 4 images at once (results and attachments together).",
    }
    for results, expected in cases.items():
        edit = await harness.command(running, "edit", {"instruction": INSTRUCTION, "results": results})
        assert private_text(harness, edit) == str(expected), results
    assert len(posts(harness)) == paid
