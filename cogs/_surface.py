"""Renders a job's progress and result into the Discord reply (implements core.ports.Surface)."""

from __future__ import annotations

import io
import logging

import discord

from bot.core.errors import ImageError
from bot.core.models import ChainKind, Delivery
from bot.core.text import caption, thread_name
from bot.core.updates import Final, Partial
from cogs._reply import Reply

log = logging.getLogger(__name__)

EMBED_COLOUR = discord.Colour(0x5865F2)
THREAD_HINT = "Use **/edit** in this thread to keep refining the image. Each edit builds on the latest result."


class ReplySurface:
    def __init__(
        self,
        reply: Reply,
        *,
        verb: str,
        chain_id: int | None,
        chain_kind: ChainKind,
        parent_channel_id: int | None,
    ) -> None:
        self.reply = reply
        self.verb = verb
        self.chain_id = chain_id  # None: open a thread on the reply when the image is done
        self.chain_kind = chain_kind
        self.parent_channel_id = parent_channel_id

    async def start(self) -> None:
        await self.reply.edit(content=f"🎨 {self.verb}… this usually takes 20–60 seconds.")

    async def waiting(self) -> None:
        await self.reply.edit(content="⏳ Waiting for the request ahead of this one in this thread to finish…")

    async def preview(self, partial: Partial, expected: int) -> None:
        name = f"preview_{partial.index + 1}.{_ext(partial.format)}"
        progress = f" {partial.index + 1} of {expected}" if expected else ""
        await self.reply.edit(
            content=f"🎨 {self.verb}… preview{progress}",
            attachments=[discord.File(io.BytesIO(partial.image), filename=name)],
        )

    async def deliver(self, final: Final, job_prompt: str) -> Delivery:
        name = f"threadpaint.{_ext(final.format)}"
        embed = discord.Embed(description=caption(job_prompt, final.revised_prompt), colour=EMBED_COLOUR)
        embed.set_image(url=f"attachment://{name}")
        message = await self.reply.edit(
            content=None, embed=embed, attachments=[discord.File(io.BytesIO(final.image), filename=name)]
        )
        if self.chain_id is not None:
            return Delivery(self.chain_id, self.chain_kind, self.parent_channel_id, message.channel.id, message.id)
        return await self._open_thread(message, job_prompt)

    async def _open_thread(self, message: discord.Message, prompt: str) -> Delivery:
        try:
            thread = await message.create_thread(name=thread_name(prompt), auto_archive_duration=1440)
        except discord.HTTPException as exc:
            # No thread (permissions, thread cap): this channel carries the conversation instead.
            log.warning("could not open a thread on %s (%s); the channel is the chain", message.id, exc)
            return Delivery(message.channel.id, "channel", None, message.channel.id, message.id)
        try:
            await thread.send(THREAD_HINT)
        except discord.HTTPException:
            log.info("could not post the hint in thread %s", thread.id)
        return Delivery(thread.id, "thread", message.channel.id, message.channel.id, message.id)

    async def failed(self, error: ImageError) -> None:
        await self.reply.edit(content=f"❌ {error.user_message}", embed=None, attachments=[])


def _ext(fmt: str) -> str:
    return {"jpeg": "jpg"}.get(fmt, fmt)
