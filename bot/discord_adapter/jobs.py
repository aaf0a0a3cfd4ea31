"""Starting jobs from Discord: the checks before answering, admission, the status line, then the engine.

Shared by the slash commands, the buttons on results and the "Edit image" message command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import discord

from bot.core.access import ImageAuthor, Member, Place, Request, TurnHome, refusal
from bot.core.budgets import BudgetPolicy
from bot.core.capabilities import ImageCapabilities, capabilities_of
from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings
from bot.core.i18n import Message, tr, tr_n
from bot.core.images import MAX_PIXELS, MAX_UPLOAD_BYTES, TOO_MANY_PIXELS
from bot.core.models import ImageRef, Job, JobKind, Turn
from bot.core.options import ImageOptions, check_prompt
from bot.core.role_budgets import policy_for
from bot.core.service import Admission
from bot.core.sizes import choose_size
from bot.discord_adapter.ack import Ack, admit_in_time
from bot.discord_adapter.i18n import for_member
from bot.discord_adapter.references import linked_results
from bot.discord_adapter.reply import Reply
from bot.discord_adapter.server_keys import job_key
from bot.discord_adapter.server_rules import check_words, spoiler_here
from bot.discord_adapter.surface import DRAWING, EDITING, ReplySurface
from bot.ops.memory import MemoryReleaser

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

MAX_INPUT_IMAGES = 4  # /edit's image options; "Edit image" takes the first four of a message
MASK_WITH_RESULTS = tr("A mask applies to an attached image; use it without `results`.")


class JobStarter:
    def __init__(self, bot: ImageBot) -> None:
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
        result_links: str | None = None,
    ) -> None:
        if not self.bot.service.claim(interaction.id):
            return  # Discord delivered this interaction twice; the first delivery is being handled
        ack = Ack(interaction, self.bot.metrics)
        plan = self.plan(interaction, kind, text, chosen, attachments, mask, references, result_links)
        admitted = await admit_in_time(ack, self.bot.service, plan, self._log_refusal(interaction, text))
        if admitted is None:
            return
        admission, job = admitted
        reply = await self.reply_here(ack)
        await self.run_admitted(admission, job, reply, interaction.filesize_limit, attachments, mask,
                                locale=for_member(interaction))

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
        admitted = await admit_in_time(ack, self.bot.service, plan, self._log_refusal(interaction, text))
        if admitted is None:
            return
        admission, job = admitted
        if here:
            reply = await self.reply_here(ack)
        else:
            await ack.confirm(tr("On it: the new image will appear in {channel}.", channel=f"<#{chain_id}>"))
            channel = self.bot.get_channel(chain_id) or await self.bot.fetch_channel(chain_id)
            reply = Reply(_messageable(channel))
        await self.run_admitted(admission, job, reply, interaction.filesize_limit, locale=for_member(interaction))

    async def reply_here(self, ack: Ack) -> Reply:
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
        await self.check_branch(interaction, source, server)
        prompt = check_prompt(text, what="instruction")
        check_words(server, prompt, "prompt" if kind == "draw" else "instruction")
        # The result lands in the conversation, which may not be where the button was pressed.
        where = interaction.channel if interaction.channel_id == chain_id else self.bot.get_channel(chain_id)
        if where is None:  # an archived thread isn't cached; a thread's spoiler setting is its parent's anyway
            chain = await self.bot.service.chain(chain_id)
            where = self.bot.get_channel(chain.parent_channel_id) if chain and chain.parent_channel_id else None
        job = Job(
            interaction_id=interaction.id, user_id=interaction.user.id, guild_id=interaction.guild_id,
            channel_id=chain_id, kind=kind, prompt=prompt,
            options=source.options, chain_id=chain_id, moderation=server.moderation,
            partial_images=server.partial_images, branch=True, parent_turn_id=parent_turn_id,
            spoiler=spoiler_here(server, where), api_key=await self.server_key(interaction),
        )
        return job, budget_policy(server, interaction)

    async def check_branch(self, interaction: discord.Interaction, source: Turn, server: GuildSettings) -> None:
        """Buttons and their modals: the turn must live where the button was pressed, then the usual rules."""
        chain_id = source.chain_id  # None only for a variation that failed before any opened its thread
        chain = await self.bot.service.chain(chain_id) if chain_id is not None else None
        in_thread = isinstance(interaction.channel, discord.Thread) or interaction.channel_id != chain_id
        check_access(server, Request(
            _member(interaction, in_thread=in_thread), _place(interaction), turn=turn_home(source),
            conversation_owner_id=chain.owner_id if chain else None,
        ))

    async def check_cancel(self, interaction: discord.Interaction, turn: Turn) -> None:
        server = await self.server_settings(interaction)
        check_access(server, Request(
            _member(interaction), _place(interaction), cancel=True, job_owner_id=turn.user_id, turn=turn_home(turn),
        ))

    async def check_start(
        self, interaction: discord.Interaction, server: GuildSettings, *, opens_thread: bool,
        image_author: ImageAuthor | None = None,
    ) -> None:
        """The rules for new work here: allow-lists, the member's own permissions, whose image it is."""
        in_thread = isinstance(interaction.channel, discord.Thread)
        check_access(server, Request(
            _member(interaction, in_thread=in_thread), _place(interaction), opens_thread=opens_thread,
            image_author=image_author,
        ))

    async def run_admitted(
        self, admission: Admission, job: Job, reply: Reply, upload_limit: int,
        attachments: Sequence[discord.Attachment] = (),
        mask: discord.Attachment | None = None,
        *,
        locale: str | None = None,
    ) -> None:
        """Show the status line, read the attachment, then hand the job to the engine."""
        service = self.bot.service
        turn_id = admission.turn_id
        chain = await service.chain(job.chain_id) if job.chain_id is not None else None
        surface = ReplySurface(
            self.bot,
            reply,
            verb=DRAWING if job.kind == "draw" else EDITING,
            chain_id=job.chain_id,
            chain_kind=chain.kind if chain else "channel",
            parent_channel_id=getattr(reply.channel, "parent_id", None),
            upload_limit=upload_limit,
            turn_id=turn_id,
            estimate=admission.estimate,
            timer=self.bot.metrics.timer(job.interaction_id),
            locale=locale,
            spoiler=job.spoiler,
        )
        await surface.start()
        channel_id = getattr(reply.channel, "id", job.channel_id)
        # In the member's order: "the hat from the second image on the cat in the first" depends on it.
        job = replace(job, reply_channel_id=channel_id, reply_message_id=reply.message_id,
                      input_sources=tuple(_downloader(attachment) for attachment in attachments),
                      mask_source=_downloader(mask) if mask is not None else None)
        if reply.message_id is not None:
            await self.bot.store.set_reply_message(turn_id, channel_id, reply.message_id)
        try:
            await service.run(turn_id, job, surface)
        finally:
            self.memory.job_ended()
        await self.bot.log_channel.turn_ended(turn_id)

    def _log_refusal(self, interaction: discord.Interaction, text: str) -> Callable[[Message], Awaitable[None]]:
        async def refused(reason: Message) -> None:
            channel_id = interaction.channel_id
            assert channel_id is not None  # commands and components always come from a channel
            await self.bot.log_channel.refusal(interaction.guild_id, interaction.user.id, channel_id, reason, text)
        return refused

    async def plan(
        self,
        interaction: discord.Interaction,
        kind: JobKind,
        text: str,
        chosen: Chosen,
        attachments: Sequence[discord.Attachment],
        mask: discord.Attachment | None = None,
        references: tuple[ImageRef, ...] = (),
        result_links: str | None = None,
    ) -> tuple[Job, BudgetPolicy]:
        """Everything checked before the member is answered: costs nothing and raises ImageError."""
        channel_id = interaction.channel_id
        assert channel_id is not None  # slash commands always come from a channel
        server = await self.server_settings(interaction)
        if result_links is not None:  # earlier results by link go first, as OpenAI sees them (by id)
            if mask is not None:
                raise InvalidInput(MASK_WITH_RESULTS)
            references = (*references, *await linked_results(self.bot, interaction, result_links, MAX_INPUT_IMAGES))
        new_thread = opens_thread(interaction, kind, bool(attachments or references))
        await self.check_start(interaction, server, opens_thread=new_thread)
        what = "prompt" if kind == "draw" else "instruction"
        prompt = check_prompt(text, what=what)
        check_words(server, prompt, what)  # before anything else is looked at, let alone paid for
        options, notes = chosen.resolve_for(server, self.capabilities())
        options = options.validate()
        if any(attachment.size > MAX_UPLOAD_BYTES for attachment in attachments):
            raise InvalidInput(tr("That image is larger than 20 MB; please attach a smaller one."))
        if len(attachments) + len(references) > MAX_INPUT_IMAGES:
            raise InvalidInput(tr_n("I can use at most {count} image at once.",
                                    "I can use at most {count} images at once.", MAX_INPUT_IMAGES))
        if mask is not None and not attachments:
            raise InvalidInput(tr("A mask needs the image it applies to: attach that image as `image` too."))
        if mask is not None and mask.size > MAX_UPLOAD_BYTES:
            raise InvalidInput(tr("The mask is larger than 20 MB; please attach a smaller one."))
        if any((attachment.width or 0) * (attachment.height or 0) > MAX_PIXELS for attachment in attachments):
            raise InvalidInput(TOO_MANY_PIXELS)  # Discord's own reading of the image; the decoder checks again
        chain_id = await self._chain_for(interaction, kind, bool(attachments or references))
        # /edit continues the conversation here; /draw in a thread moves that thread's head too. /draw in a
        # plain channel that carries a conversation (no thread could open) doesn't lock the channel to one member.
        changes_conversation = kind == "edit" or isinstance(interaction.channel, discord.Thread)
        if chain_id is not None and changes_conversation:
            chain = await self.bot.service.chain(chain_id)
            if chain is not None:
                check_access(server, Request(
                    _member(interaction, in_thread=isinstance(interaction.channel, discord.Thread)),
                    _place(interaction), conversation_owner_id=chain.owner_id,
                ))
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
            spoiler=spoiler_here(server, interaction.channel),
            api_key=await self.server_key(interaction),
        )
        return job, budget_policy(server, interaction)

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

    async def server_key(self, interaction: discord.Interaction) -> str | None:
        """The server's own OpenAI key for this job, None for the owner's; raises InvalidInput when neither."""
        bot = self.bot
        return await job_key(bot.store, bot.key_vault, interaction.guild_id,
                             fallback=bot.settings.server_key_fallback)

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

    def resolve_for(
        self, server: GuildSettings, caps: ImageCapabilities
    ) -> tuple[ImageOptions, tuple[Message, ...]]:
        """The options for this job and what the member should be told about them (a size mapped, ...)."""
        options = self.resolve(server)
        notes: tuple[Message, ...] = ()
        if self.aspect or self.resolution:
            if self.size:
                raise InvalidInput(tr("Pick either size or aspect/resolution, not both."))
            choice = choose_size(self.aspect, self.resolution, any_size=caps.any_size)
            options = replace(options, size=choice.size)
            notes = (choice.note,) if choice.note else ()
        if self.fidelity is not None:
            if not caps.fidelity:
                raise InvalidInput(tr(
                    "This server's image model doesn't take the fidelity option (gpt-image-2 and later always "
                    "keep faces and details at high fidelity). Leave it out."
                ))
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


def budget_policy(server: GuildSettings, interaction: discord.Interaction) -> BudgetPolicy:
    """The server's limits for this member (their roles' budgets included), before the owner's caps."""
    return policy_for(server, _role_ids(interaction.user))


def check_access(server: GuildSettings, request: Request) -> None:
    problem = refusal(server, request)
    if problem:
        raise InvalidInput(problem)


def turn_home(turn: Turn) -> TurnHome:
    """The channels a turn's messages (and so its buttons) live in: where it was asked, its conversation, its reply."""
    channels = {turn.channel_id, turn.chain_id, turn.reply_channel_id}
    return TurnHome(turn.guild_id, frozenset(c for c in channels if c is not None))


def _member(interaction: discord.Interaction, *, in_thread: bool = False) -> Member:
    """The member's own permissions in this channel (Discord computes them, overwrites included)."""
    permissions = interaction.permissions
    return Member(
        user_id=interaction.user.id,
        role_ids=frozenset(_role_ids(interaction.user)),
        is_manager=_is_manager(interaction),
        is_moderator=_is_moderator(interaction),
        can_send=permissions.send_messages_in_threads if in_thread else permissions.send_messages,
        can_attach=permissions.attach_files,
        can_create_threads=permissions.create_public_threads,
    )


def _place(interaction: discord.Interaction) -> Place:
    channel_id = interaction.channel_id
    assert channel_id is not None  # commands and components always come from a channel
    return Place(interaction.guild_id, channel_id, getattr(interaction.channel, "parent_id", None))


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
        raise InvalidInput(tr("I can't post in this kind of channel."))
    return channel


def opens_thread(interaction: discord.Interaction, kind: JobKind, has_image: bool) -> bool:
    """Whether the result will open a new public thread here (as `_chain_for` decides)."""
    return _can_open_thread(interaction) and (kind == "draw" or has_image)


def _can_open_thread(interaction: discord.Interaction) -> bool:
    """A thread can be opened on the reply only in a guild text or news channel with the permission."""
    channel = interaction.channel
    return isinstance(channel, discord.TextChannel) and interaction.app_permissions.create_public_threads


def _downloader(attachment: discord.Attachment) -> Callable[[], Awaitable[bytes]]:
    async def download() -> bytes:
        try:
            return await attachment.read()
        except discord.HTTPException as exc:
            raise InvalidInput(tr("I couldn't download that attachment from Discord. Please try again.")) from exc
    return download
