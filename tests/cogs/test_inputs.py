"""Uploads can't exhaust the host: nothing is downloaded or decoded before the job has a slot, and the pixel cap
refuses what OpenAI would only shrink away."""

from __future__ import annotations

import io

from PIL import Image

from tests.fakes.discord_server import CDN_ROUTE
from tests.fakes.images import decode, make_image
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness


def posts(harness: Harness) -> list[dict]:
    return [r.json for r in harness.openai.requests if r.path == "/v1/responses" and r.method == "POST"]


async def test_an_attachment_waits_for_a_slot_before_it_is_downloaded(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(MAX_CONCURRENT_JOBS="1")
    harness.openai.queue_script(ImageScript(event_delay=0.3))
    first = await fd.invoke_slash("draw", {"prompt": "a slow one"})
    await fd.wait_for(lambda: len(posts(harness)) == 1, what="the first job to hold the only slot")
    upload = make_image((250, 120, 0), (48, 48))
    second = await fd.invoke_slash("edit", {"instruction": "orange"}, user_id=fd.other_user_id,
                                   attachments={"image": ("orange.png", upload, "image/png")})
    await fd.wait_for(lambda: second.original_message_id is not None
                      and "free slot" in fd.messages[second.original_message_id].content, what="the queue line")
    assert fd.route_calls("GET", CDN_ROUTE) == []  # admitted and queued, but not downloaded (or decoded) yet
    await running.tracker.wait(first.id)
    await running.tracker.wait(second.id)
    assert len(fd.route_calls("GET", CDN_ROUTE)) == 1
    [received] = harness.openai.generations[-1].input_images
    assert decode(received).size == (48, 48)


async def test_an_upload_over_the_pixel_cap_is_refused_without_an_openai_call(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    out = io.BytesIO()
    Image.new("RGB", (5000, 5000), "white").save(out, "PNG")  # ~80 kB that would decode to 25 MP
    edit = await harness.command(running, "edit", {"instruction": "x"},
                                 attachments={"image": ("flat.png", out.getvalue(), "image/png")})
    texts = [fd.messages[i].content for i in [edit.original_message_id, *edit.followup_ids] if i in fd.messages]
    assert any("too many pixels" in t for t in texts), texts
    assert posts(harness) == []
    # Refused from the size Discord reports, before admission: no job, no download, no decode.
    assert await running.store.turn_for_interaction(edit.id) is None
    assert fd.route_calls("GET", CDN_ROUTE) == []
