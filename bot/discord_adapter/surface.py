"""Renders a job's progress and result into the Discord reply (implements core.ports.Surface)."""

from __future__ import annotations

import logging

import discord

from bot.core.costs import format_usd
from bot.core.errors import ImageError
from bot.core.i18n import Message, Text, tr
from bot.core.images import fit_for_upload_async
from bot.core.models import ChainKind, Delivery
from bot.core.text import caption, escape, shorten, thread_name
from bot.core.updates import Final, Partial
from bot.discord_adapter.buttons import result_view, running_view
from bot.discord_adapter.i18n import say
from bot.discord_adapter.reply import MISSING, Reply, Upload, replace_with_private
from bot.ops.metrics import JobTimer

log = logging.getLogger(__name__)

EMBED_COLOUR = discord.Colour(0x5865F2)
THREAD_HINT = tr("Use **/edit** in this thread to keep refining the image. Each edit builds on the latest result.")
INTERRUPTED = tr("⚠️ This request was interrupted because the bot restarted. Please run the command again.")
DRAWING, EDITING = tr("Drawing"), tr("Editing")
DM_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's upload limit outside servers with boosts
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
SPOILER_PREFIX = "SPOILER_"


class ReplySurface:
    def __init__(
        self,
        client: discord.Client,
        reply: Reply,
        *,
        verb: Message,
        chain_id: int | None,
        chain_kind: ChainKind,
        parent_channel_id: int | None,
        upload_limit: int,
        turn_id: int | None = None,
        estimate: int | None = None,
        timer: JobTimer | None = None,
        locale: str | None = None,
        spoiler: bool = False,
    ) -> None:
        # The member's language (interaction.locale), kept for the job's life: retries and deliveries after the
        # interaction token expired still speak it.
        self.locale = locale
        self.spoiler = spoiler  # previews and result as spoiler attachments, the image kept out of the embed
        self.estimate = estimate
        self.timer = timer  # times the first preview and the final result for metrics
        self.client = client
        self.turn_id = turn_id
        self.reply = reply
        self.verb = verb
        self.chain_id = chain_id  # None: open a thread on the reply when the image is done
        self.chain_kind = chain_kind
        self.parent_channel_id = parent_channel_id
        self.upload_limit = upload_limit

    async def start(self) -> None:
        view = running_view(self.turn_id, self.locale) if self.turn_id is not None else MISSING
        status = tr("🎨 {verb}… this usually takes 20–60 seconds.", verb=self.verb)
        if self.estimate:
            status = tr("🎨 {verb}… this usually takes 20–60 seconds. Estimated cost: at most {cost}.",
                        verb=self.verb, cost=format_usd(self.estimate))
        await self.reply.edit(content=self.say(status), view=view)

    async def waiting(self) -> None:
        await self.reply.edit(content=self.say(tr("⏳ Waiting for the request ahead of this one in this thread to "
                                                  "finish…")))

    async def queued(self, position: int) -> None:
        text = (tr("⏳ Waiting for a free slot: you're next. The image starts automatically.") if position == 1 else
                tr("⏳ Waiting for a free slot: you're number {position} in line. The image starts automatically.",
                   position=position))
        await self.reply.edit(content=self.say(text))

    async def retrying(self, delay: float, attempt: int, attempts: int, error: ImageError) -> None:
        await self.reply.edit(content=self.say(tr(
            "⏳ {message} Trying again in {seconds} s (attempt {attempt} of {attempts})…",
            message=error.user_message, seconds=f"{delay:.0f}", attempt=attempt, attempts=attempts,
        )))

    def say(self, message: Message) -> str:
        return say(message, self.locale)

    async def preview(self, partial: Partial, expected: int) -> None:
        fitted = await fit_for_upload_async(partial.image, partial.format, self.upload_limit)
        name = spoiler_name(f"preview_{partial.index + 1}.{_ext(fitted.format)}", self.spoiler)
        progress = (tr("🎨 {verb}… preview {number} of {expected}", verb=self.verb, number=partial.index + 1,
                       expected=expected) if expected else tr("🎨 {verb}… preview", verb=self.verb))
        await self.reply.edit(content=self.say(progress), uploads=[Upload(name, fitted.data)])
        if self.timer is not None:
            self.timer.first_preview()

    async def deliver(self, final: Final, prompt: str, notes: list[Message]) -> Delivery:
        fitted = await fit_for_upload_async(final.image, final.format, self.upload_limit)
        name = result_filename(fitted.format, self.spoiler)
        embed = result_embed(prompt, final.revised_prompt, name, spoiler=self.spoiler, locale=self.locale)
        footer = [*notes, fitted.note] if fitted.note else notes
        if footer:
            embed.set_footer(text=shorten(" ".join(self.say(note) for note in footer), 2048))
        view = result_view(self.turn_id, self.locale) if self.turn_id is not None else None
        message = await self.reply.edit(content=None, embed=embed, uploads=[Upload(name, fitted.data)], view=view)
        if self.timer is not None:
            self.timer.final()
        if self.chain_id is not None:
            return Delivery(self.chain_id, self.chain_kind, self.parent_channel_id, message.channel.id, message.id)
        return await self._open_thread(message, prompt)

    async def _open_thread(self, message: discord.Message, prompt: str) -> Delivery:
        try:
            thread = await message.create_thread(name=thread_name(prompt), auto_archive_duration=1440)
        except (discord.HTTPException, AttributeError, TypeError) as exc:
            # No thread (permissions, thread cap, a channel type without threads): the channel carries it.
            log.warning("could not open a thread on %s (%s); the channel is the chain", message.id, exc)
            return Delivery(message.channel.id, "channel", None, message.channel.id, message.id)
        try:
            await thread.send(self.say(THREAD_HINT))
        except discord.HTTPException:
            log.info("could not post the hint in thread %s", thread.id)
        return Delivery(thread.id, "thread", message.channel.id, message.channel.id, message.id)

    async def failed(self, error: ImageError) -> None:
        interaction = self.reply.interaction
        if error.private and interaction is not None and self.reply.token_alive():
            # Only the member's own input was wrong: tell them alone and take the public reply away.
            if await replace_with_private(interaction, f"❌ {self.say(error.user_message)}"):
                return
            log.info("could not answer privately; editing the reply instead")
        await self.reply.edit(content=f"❌ {self.say(error.user_message)}", embed=None, uploads=[], view=None)

    async def hand_over(self, final: Final, prompt: str, user_id: int) -> bool:
        """The image by DM, when it can't be posted where it was asked for (the channel is out of reach)."""
        fitted = await fit_for_upload_async(final.image, final.format, DM_UPLOAD_LIMIT)
        text = self.say(tr("Your image is ready, but I couldn't post it where you asked (I can't reach that channel "
                           "any more). Here it is.\n**Prompt:** {prompt}", prompt=shorten(escape(prompt), 1500)))
        try:
            user = self.client.get_user(user_id) or await self.client.fetch_user(user_id)
            upload = Upload(result_filename(fitted.format, self.spoiler), fitted.data)
            await user.send(text, file=upload.file())
        except discord.HTTPException as exc:
            log.warning("could not send the image to member %s by DM: %s", user_id, exc)
            return False
        return True

    async def interrupted(self, cost: int = 0) -> None:
        await self.reply.edit(content=self.say(interrupted_text(cost)), embed=None, uploads=[], view=None)

    async def fetch_image(self, channel_id: int, message_id: int) -> bytes | None:
        return await fetch_message_image(self.client, channel_id, message_id)


async def fetch_message_image(client: discord.Client, channel_id: int, message_id: int) -> bytes | None:
    """The first image attached to a message, or None when it is gone or unreadable."""
    channel = client.get_partial_messageable(channel_id)
    try:
        message = await channel.fetch_message(message_id)
        for attachment in message.attachments:
            if attachment.filename.lower().endswith(IMAGE_SUFFIXES):
                return await attachment.read()
    except discord.HTTPException as exc:
        log.info("could not fetch the image of %s/%s: %s", channel_id, message_id, exc)
    return None


def interrupted_text(cost: int) -> Text:
    """OpenAI bills what it made before the restart; the member is charged that, and should know."""
    if not cost:
        return INTERRUPTED
    return tr("⚠️ This request was interrupted because the bot restarted. Please run the command again. OpenAI had "
              "already started on it, so it cost {cost}.", cost=format_usd(cost))


def spoiler_name(filename: str, spoiler: bool) -> str:
    # Discord blurs an attachment whose name starts with SPOILER_ until it is clicked.
    return f"{SPOILER_PREFIX}{filename}" if spoiler else filename


def result_filename(fmt: str, spoiler: bool) -> str:
    return spoiler_name(f"threadpaint.{_ext(fmt)}", spoiler)


def result_embed(
    prompt: str, revised_prompt: str | None, filename: str, *, spoiler: bool, locale: str | None
) -> discord.Embed:
    """A finished image's embed: the caption, and the image itself unless it is a spoiler."""
    description = caption(prompt, revised_prompt, label=say(tr("Prompt"), locale),
                          revised_label=say(tr("Revised prompt"), locale))
    embed = discord.Embed(description=description, colour=EMBED_COLOUR)
    if not spoiler:
        # An image inside an embed is never blurred: a spoiler stays a plain attachment below the caption.
        embed.set_image(url=f"attachment://{filename}")
    return embed


def _ext(fmt: str) -> str:
    return {"jpeg": "jpg"}.get(fmt, fmt)
