"""Starting jobs from Discord: the checks before answering, admission, the status line, then the engine.

Shared by the slash commands, the buttons on results and the "Edit image" message command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import discord

from bot.core.budgets import BudgetPolicy
from bot.core.capabilities import ImageCapabilities, capabilities_of
from bot.core.errors import ImageError, InvalidInput
from bot.core.guild_settings import GuildSettings, access_problem, may_edit
from bot.core.images import MAX_UPLOAD_BYTES, prepare_input_image
from bot.core.masks import prepare_mask
from bot.core.models import ImageRef, Job, JobKind, Turn
from bot.core.options import ImageOptions, check_prompt
from bot.core.service import Admission
from bot.core.sizes import choose_size
from bot.memory import MemoryReleaser
from cogs._ack import Ack, admit_in_time
from cogs._reply import Reply
from cogs._surface import ReplySurface

if TYPE_CHECKING:
    from bot.app import ThreadpaintBot

log = logging.getLogger(__name__)

MAX_INPUT_IMAGES = 4  # /edit's image options; "Edit image" takes the first four of a message
NOT_YOUR_THREAD = (
    "On this server only the person who started this thread (and moderators) can change its image. "
    "Use /draw to start your own."
)


class JobStarter:
    def __init__(self, bot: ThreadpaintBot) -> None:
        self.bot = bot
        self.memory = MemoryReleaser(idle=lambda: self.bot.service.running == 0)

    async def start(
        self,
        interaction: discord.Interaction,
        kind: JobKind,
        text: str,
        chosen: Chosen,
        attachments: Sequence[discord.Attachment] = (),
        mask: discord.Attachment | None = None,
        references: tuple[ImageRef, ...] = (),
    ) -> None:
        if not self.bot.service.claim(interaction.id):
            return  # Discord delivered this interaction twice; the first delivery is being handled
        ack = Ack(interaction, self.bot.metrics)
        plan = self._plan(interaction, kind, text, chosen, attachments, mask, references)
        admitted = await admit_in_time(ack, self.bot.service, plan)
        if admitted is None:
            return
        admission, job = admitted
        reply = await self._reply_here(ack)
        await self.run_admitted(admission, job, reply, interaction.filesize_limit, attachments, mask)

    async def start_branch(
        self, interaction: discord.Interaction, source: Turn, kind: JobKind, text: str, parent_turn_id: int | None
    ) -> None:
        """A job from a button on an older result: it builds on that turn and is posted in its conversation."""
        if not self.bot.service.claim(interaction.id):
            return
        chain_id = source.chain_id
        assert chain_id is not None
        # Pressed on the thread's opening message in the channel: the result belongs in the thread, and the
        # member here only gets a private note.
        here = interaction.channel_id == chain_id
        ack = Ack(interaction, self.bot.metrics, private=not here)
        plan = self._plan_branch(interaction, source, kind, text, parent_turn_id)
        admitted = await admit_in_time(ack, self.bot.service, plan)
        if admitted is None:
            return
        admission, job = admitted
        if here:
            reply = await self._reply_here(ack)
        else:
            await ack.confirm(f"On it: the new image will appear in <#{chain_id}>.")
            channel = self.bot.get_channel(chain_id) or await self.bot.fetch_channel(chain_id)
            reply = Reply(_messageable(channel))
        await self.run_admitted(admission, job, reply, interaction.filesize_limit)

    async def _reply_here(self, ack: Ack) -> Reply:
        """The job's reply is the interaction's own message (deferred now unless admission already did)."""
        await ack.defer()
        interaction = ack.interaction
        return Reply(_messageable(interaction.channel), interaction=interaction, clock=lambda: self.bot.clock())

    async def _plan_branch(
        self, interaction: discord.Interaction, source: Turn, kind: JobKind, text: str, parent_turn_id: int | None
    ) -> tuple[Job, BudgetPolicy]:
        chain_id = source.chain_id
        assert chain_id is not None
        server = await self.server_settings(interaction)
        await self.check_may_edit(interaction, chain_id, server)
        job = Job(
            interaction_id=interaction.id, user_id=interaction.user.id, guild_id=interaction.guild_id,
            channel_id=chain_id, kind=kind, prompt=check_prompt(text, what="instruction"),
            options=source.options, chain_id=chain_id, moderation=server.moderation,
            partial_images=server.partial_images, branch=True, parent_turn_id=parent_turn_id,
        )
        return job, budget_policy(server)

    async def check_may_edit(self, interaction: discord.Interaction, chain_id: int, server: GuildSettings) -> None:
        chain = await self.bot.service.chain(chain_id)
        if chain is not None and not may_edit(
            server, owner_id=chain.owner_id, user_id=interaction.user.id, is_moderator=_is_moderator(interaction)
        ):
            raise InvalidInput(NOT_YOUR_THREAD)

    async def run_admitted(
        self, admission: Admission, job: Job, reply: Reply, upload_limit: int,
        attachments: Sequence[discord.Attachment] = (),
        mask: discord.Attachment | None = None,
    ) -> None:
        """Show the status line, read the attachment, then hand the job to the engine."""
        service = self.bot.service
        turn_id = admission.turn_id
        chain = await service.chain(job.chain_id) if job.chain_id is not None else None
        surface = ReplySurface(
            self.bot,
            reply,
            verb="Drawing" if job.kind == "draw" else "Editing",
            chain_id=job.chain_id,
            chain_kind=chain.kind if chain else "channel",
            parent_channel_id=getattr(reply.channel, "parent_id", None),
            upload_limit=upload_limit,
            turn_id=turn_id,
            estimate=admission.estimate,
            timer=self.bot.metrics.timer(job.interaction_id),
        )
        await surface.start()
        try:
            # In the member's order: "the hat from the second image on the cat in the first" depends on it.
            raw = await asyncio.gather(*map(_download, attachments))
            input_images = tuple(await asyncio.gather(*map(prepare_input_image, raw))) or job.input_images
            masked = await prepare_mask(await _download(mask), raw[0]) if mask is not None else job.mask
        except ImageError as error:
            await service.abandon(turn_id, error)
            await surface.failed(error)
            return
        channel_id = getattr(reply.channel, "id", job.channel_id)
        job = replace(job, input_images=input_images, mask=masked, reply_channel_id=channel_id,
                      reply_message_id=reply.message_id)
        if reply.message_id is not None:
            await self.bot.store.set_reply_message(turn_id, channel_id, reply.message_id)
        try:
            await service.run(turn_id, job, surface)
        finally:
            self.memory.job_ended()

    async def _plan(
        self,
        interaction: discord.Interaction,
        kind: JobKind,
        text: str,
        chosen: Chosen,
        attachments: Sequence[discord.Attachment],
        mask: discord.Attachment | None = None,
        references: tuple[ImageRef, ...] = (),
    ) -> tuple[Job, BudgetPolicy]:
        """Everything checked before the member is answered: costs nothing and raises ImageError."""
        channel_id = interaction.channel_id
        assert channel_id is not None  # slash commands always come from a channel
        server = await self.server_settings(interaction)
        problem = access_problem(
            server, channel_id=channel_id, parent_channel_id=getattr(interaction.channel, "parent_id", None),
            role_ids=_role_ids(interaction.user), is_manager=_is_manager(interaction),
        )
        if problem:
            raise InvalidInput(problem)
        prompt = check_prompt(text, what="prompt" if kind == "draw" else "instruction")
        options, notes = chosen.resolve_for(server, self.capabilities())
        options = options.validate()
        if any(attachment.size > MAX_UPLOAD_BYTES for attachment in attachments):
            raise InvalidInput("That image is larger than 20 MB; please attach a smaller one.")
        if len(attachments) > MAX_INPUT_IMAGES:
            raise InvalidInput(f"I can use at most {MAX_INPUT_IMAGES} images at once.")
        if mask is not None and not attachments:
            raise InvalidInput("A mask needs the image it applies to: attach that image as `image` too.")
        if mask is not None and mask.size > MAX_UPLOAD_BYTES:
            raise InvalidInput("The mask is larger than 20 MB; please attach a smaller one.")
        chain_id = await self._chain_for(interaction, kind, bool(attachments or references))
        if chain_id is not None and kind == "edit":
            await self.check_may_edit(interaction, chain_id, server)
        job = Job(
            interaction_id=interaction.id,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=channel_id,
            kind=kind,
            prompt=prompt,
            options=options,
            chain_id=chain_id,
            moderation=server.moderation,
            partial_images=server.partial_images,
            attachments=len(attachments),
            references=references,
            notes=notes,
        )
        return job, budget_policy(server)

    async def _chain_for(self, interaction: discord.Interaction, kind: JobKind, has_image: bool) -> int | None:
        """The conversation this command continues, or None to open a new thread on the reply."""
        channel_id = interaction.channel_id
        assert channel_id is not None
        threadable = _can_open_thread(interaction)
        if kind == "draw" or (has_image and threadable):
            return None if threadable else channel_id
        await self.bot.service.check_editable(channel_id, has_image)
        return channel_id

    def capabilities(self) -> ImageCapabilities:
        settings = self.bot.settings
        return capabilities_of(
            settings.image_model, any_size_models=settings.any_size_models, fidelity_models=settings.fidelity_models
        )

    async def server_settings(self, interaction: discord.Interaction) -> GuildSettings:
        if interaction.guild_id is None:
            return GuildSettings()
        return await self.bot.store.get_guild_settings(interaction.guild_id)


@dataclass(frozen=True)
class Chosen:
    """The options a member actually set; the rest come from the server's defaults."""

    size: str | None
    quality: str | None
    background: str | None
    format: str | None
    compression: int | None
    aspect: str | None = None
    resolution: str | None = None
    fidelity: str | None = None

    def resolve_for(self, server: GuildSettings, caps: ImageCapabilities) -> tuple[ImageOptions, tuple[str, ...]]:
        """The options for this job and what the member should be told about them (a size mapped, ...)."""
        options = self.resolve(server)
        notes: tuple[str, ...] = ()
        if self.aspect or self.resolution:
            if self.size:
                raise InvalidInput("Pick either size or aspect/resolution, not both.")
            choice = choose_size(self.aspect, self.resolution, any_size=caps.any_size)
            options = replace(options, size=choice.size)
            notes = (choice.note,) if choice.note else ()
        if self.fidelity is not None:
            if not caps.fidelity:
                raise InvalidInput(
                    "This server's image model doesn't take the fidelity option (gpt-image-2 and later always "
                    "keep faces and details at high fidelity). Leave it out."
                )
            options = replace(options, fidelity=self.fidelity)
        return options, notes

    def resolve(self, server: GuildSettings) -> ImageOptions:
        return ImageOptions(
            size=self.size or server.default_size or "auto",
            quality=self.quality or server.default_quality or "auto",
            background=self.background or "auto",
            format=self.format or server.default_format or "png",
            compression=self.compression,
        )


def budget_policy(server: GuildSettings) -> BudgetPolicy:
    return BudgetPolicy(
        user_daily=server.user_daily_micros,
        user_monthly=server.user_monthly_micros,
        guild_daily=server.guild_daily_micros,
        guild_monthly=server.guild_monthly_micros,
    )


def _role_ids(user: discord.abc.User) -> list[int]:
    return [role.id for role in getattr(user, "roles", [])]


def _is_manager(interaction: discord.Interaction) -> bool:
    permissions = getattr(interaction.user, "guild_permissions", None)
    return bool(permissions and permissions.manage_guild)


def _is_moderator(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return permissions.manage_threads or permissions.manage_messages or permissions.manage_guild


def _messageable(channel: object) -> discord.abc.Messageable:
    if not isinstance(channel, discord.abc.Messageable):
        raise InvalidInput("I can't post in this kind of channel.")
    return channel


def _can_open_thread(interaction: discord.Interaction) -> bool:
    """A thread can be opened on the reply only in a guild text or news channel with the permission."""
    channel = interaction.channel
    return isinstance(channel, discord.TextChannel) and interaction.app_permissions.create_public_threads


async def _download(attachment: discord.Attachment) -> bytes:
    try:
        return await attachment.read()
    except discord.HTTPException as exc:
        raise InvalidInput("I couldn't download that attachment from Discord. Please try again.") from exc


