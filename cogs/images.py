"""/draw and /edit: thin Discord commands over the job engine."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import ImageError, InvalidInput, Unavailable
from bot.core.images import MAX_UPLOAD_BYTES, prepare_input_image
from bot.core.models import InputImage, Job, JobKind
from bot.core.options import ImageOptions, check_prompt
from cogs._reply import Reply, send_private
from cogs._surface import ReplySurface

if TYPE_CHECKING:
    from bot.app import ThreadpaintBot

log = logging.getLogger(__name__)

RESTARTING = "I'm restarting right now, so I can't start new images. Please try again in a minute."

Size = Literal["auto", "1024x1024", "1536x1024", "1024x1536"]
Quality = Literal["auto", "low", "medium", "high"]
Background = Literal["auto", "opaque", "transparent"]
Format = Literal["png", "jpeg", "webp"]

OPTION_HELP = {
    "size": "Width x height (auto lets the model choose)",
    "quality": "Higher quality takes longer and costs more",
    "background": "transparent needs png or webp",
    "format": "File format of the result",
    "compression": "0–100, jpeg and webp only (lower is smaller)",
}


@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
class Images(commands.Cog):
    """Draw images and refine them turn after turn inside a thread."""

    def __init__(self, bot: ThreadpaintBot) -> None:
        self.bot = bot

    @app_commands.command(name="draw", description="Draw a new image from a description")
    @app_commands.describe(prompt="What to draw", **OPTION_HELP)
    async def draw(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        size: Size = "auto",
        quality: Quality = "auto",
        background: Background = "auto",
        format: Format = "png",
        compression: app_commands.Range[int, 0, 100] | None = None,
    ) -> None:
        options = ImageOptions(size, quality, background, format, compression)
        await self._start(interaction, "draw", prompt, options, None)

    @app_commands.command(name="edit", description="Change the latest image in this thread, or an image you attach")
    @app_commands.describe(instruction="What to change", image="An image to edit instead", **OPTION_HELP)
    async def edit(
        self,
        interaction: discord.Interaction,
        instruction: app_commands.Range[str, 1, 4000],
        image: discord.Attachment | None = None,
        size: Size = "auto",
        quality: Quality = "auto",
        background: Background = "auto",
        format: Format = "png",
        compression: app_commands.Range[int, 0, 100] | None = None,
    ) -> None:
        options = ImageOptions(size, quality, background, format, compression)
        await self._start(interaction, "edit", instruction, options, image)

    async def _start(
        self,
        interaction: discord.Interaction,
        kind: JobKind,
        text: str,
        options: ImageOptions,
        attachment: discord.Attachment | None,
    ) -> None:
        service = self.bot.service
        if not service.claim(interaction.id):
            return  # Discord delivered this interaction twice; the first delivery is being handled
        channel_id = interaction.channel_id
        assert channel_id is not None  # slash commands always come from a channel
        threadable = _can_open_thread(interaction)
        try:
            if not service.accepting:
                raise Unavailable(RESTARTING)
            prompt = check_prompt(text, what="prompt" if kind == "draw" else "instruction")
            options.validate()
            if attachment is not None and attachment.size > MAX_UPLOAD_BYTES:
                raise InvalidInput("That image is larger than 20 MB; please attach a smaller one.")
            chain = await service.chain(channel_id)
            if kind == "draw" or (attachment is not None and threadable):
                chain_id = None if threadable else channel_id
            else:
                chain_id = channel_id
                await service.check_editable(chain_id, attachment is not None)
        except ImageError as error:
            await send_private(interaction, error.user_message)
            return
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        reply = Reply(channel, interaction=interaction, clock=lambda: self.bot.clock())
        surface = ReplySurface(
            self.bot,
            reply,
            verb="Drawing" if kind == "draw" else "Editing",
            chain_id=chain_id,
            chain_kind=chain.kind if chain else "channel",
            parent_channel_id=getattr(channel, "parent_id", None),
            upload_limit=interaction.filesize_limit,
        )
        await surface.start()
        try:
            input_image = await _read_attachment(attachment) if attachment is not None else None
        except ImageError as error:
            await surface.failed(error)
            return
        job = Job(
            interaction_id=interaction.id,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=channel_id,
            kind=kind,
            prompt=prompt,
            options=options,
            chain_id=chain_id,
            input_image=input_image,
            reply_channel_id=channel_id,
            reply_message_id=reply.message_id,
        )
        await service.run(job, surface)


def _can_open_thread(interaction: discord.Interaction) -> bool:
    """A thread can be opened on the reply only in a guild text or news channel with the permission."""
    channel = interaction.channel
    return isinstance(channel, discord.TextChannel) and interaction.app_permissions.create_public_threads


async def _read_attachment(attachment: discord.Attachment) -> InputImage:
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        raise InvalidInput("I couldn't download that attachment from Discord. Please try again.") from exc
    return await prepare_input_image(data)


async def setup(bot: ThreadpaintBot) -> None:
    await bot.add_cog(Images(bot))
