"""Several images into one edit: /edit image..image4 and "Edit image" on a message with several images."""

from __future__ import annotations

from tests.fakes.discord_state import FakeAttachment
from tests.fakes.images import close_color, decode, make_image
from tests.harness import Harness

RED, GREEN, BLUE = (230, 20, 20), (20, 200, 40), (30, 40, 220)


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


def received_colors(harness: Harness) -> list[tuple[tuple[int, int], tuple[int, ...]]]:
    return [(decoded.size, decoded.center[:3])
            for decoded in map(decode, harness.openai.generations[-1].input_images)]


async def test_edit_with_three_images_sends_them_in_order(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    uploads = {
        "image": ("cat.png", make_image(RED, (40, 32)), "image/png"),
        "image2": ("hat.png", make_image(GREEN, (24, 24)), "image/png"),
        "image3": ("sky.webp", make_image(BLUE, (32, 48), "webp"), "image/webp"),
    }
    edit = await harness.command(running, "edit", {"instruction": "put the hat from the second image on the cat "
                                                                  "in the first, under the third's sky"},
                                 attachments=uploads)

    [body] = posts(harness)
    text, *images = body["input"][0]["content"]
    assert text["type"] == "input_text" and text["text"].startswith("put the hat")
    assert [(part["type"], part["detail"], part["image_url"][:23]) for part in images] == [
        ("input_image", "auto", "data:image/jpeg;base64,")] * 3
    received = received_colors(harness)
    assert [size for size, _ in received] == [(40, 32), (24, 24), (32, 48)]
    for (_, got), want in zip(received, (RED, GREEN, BLUE), strict=True):
        assert close_color(got, want)
    assert body["tools"][0]["action"] == "edit"
    # The estimate held and shown counts all three input images.
    # Mainline allowance 3,000 + image input (3 x 1,500 + 200) x 10 = 47,000 + output at auto size and quality (the
    # dearest, 6,240 + 2 previews x 100) x 40 = 257,600: 307,600 micro-dollars.
    reply = fd.messages[edit.original_message_id]
    assert any("at most $0.308." in v.content for v in reply.versions())
    assert reply.attachments and [int(t["id"]) for t in fd.threads()] == [reply.id]


async def test_edit_image_on_a_message_uses_every_image_in_order(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    posted = await fd.send_user_message(fd.text_channel_id, "my cat and a hat")
    files = [("cat.png", RED, "image/png"), ("notes.txt", None, "text/plain"), ("hat.png", GREEN, "image/png")]
    for n, (name, color, mime) in enumerate(files):
        data = make_image(color, (32, 32)) if color else b"just text"
        attachment = FakeAttachment(9_000 + n, name, mime, data,
                                    f"{fd.base_url}/cdn/attachments/{fd.text_channel_id}/{9_000 + n}/{name}")
        fd.cdn[attachment.id] = attachment
        posted.attachments.append(attachment)

    menu = await fd.invoke_message_command("Edit image", posted.id)
    await fd.wait_for(lambda: menu.ack_type is not None, what="the modal")
    assert menu.modal is not None
    [[field]] = [row["components"] for row in menu.modal["components"]]
    submit = await fd.submit_modal(menu, {field["custom_id"]: "the cat wears the hat"})
    await running.tracker.wait_any(submit.id)

    [body] = posts(harness)
    assert [part["type"] for part in body["input"][0]["content"]] == ["input_text", "input_image", "input_image"]
    received = received_colors(harness)
    assert close_color(received[0][1], RED) and close_color(received[1][1], GREEN)
    assert fd.messages[submit.original_message_id].attachments
