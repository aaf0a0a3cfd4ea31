"""A job waiting for its next image event keeps no preview it has shown (issue 16).

Image events arrive a second or more apart. A preview is done with once it is on Discord; any layer that still
references it meanwhile (the stream translator, the engine, the generator's loop, the preview pacer) keeps
megabytes alive per running job, and with 50 jobs in flight that was most of the bot's memory.
"""

from __future__ import annotations

import asyncio
import gc

from bot.core.updates import Partial
from tests.fakes.openai_server import ImageScript
from tests.harness import Harness


def previews_alive() -> int:
    return sum(isinstance(obj, Partial) for obj in gc.get_objects())


async def test_a_job_waiting_for_its_finished_image_keeps_no_preview(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    hold = asyncio.Event()
    harness.openai.queue_script(ImageScript(hold_final=hold))  # both previews, then the finished image waits
    draw = await fd.invoke_slash("draw", {"prompt": "a fox"})

    def previews_shown() -> int:
        if draw.original_message_id is None:
            return 0
        return sum(bool(v.attachments) for v in fd.messages[draw.original_message_id].versions())

    # Both previews arrive together here, so the pacer shows the newer one only (newest wins).
    await fd.wait_for(lambda: previews_shown() == 1, what="a preview")
    # The last preview's upload has been answered; once the bot is back to waiting, nothing may hold a preview.
    await fd.wait_for(lambda: previews_alive() == 0, what="no preview left alive while the job waits")
    hold.set()
    await running.tracker.wait(draw.id)
    message = fd.messages[draw.original_message_id]  # type: ignore[index]
    assert message.embeds and message.attachments  # the finished image was still delivered
