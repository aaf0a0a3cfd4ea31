"""One access decision for every way in: slash commands, buttons, modals, "Edit image" and Cancel.

Pure: the Discord side gathers the facts (who, where, their permissions there, what the work touches) and asks
`refusal`; every path that starts, changes or stops work goes through it, so no way in skips a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.core.guild_settings import GuildSettings, access_problem, may_edit
from bot.core.i18n import Message, tr

ImageAuthor = Literal["self", "bot", "other"]

NOT_HERE = tr("That button belongs to a message somewhere else, so I can't act on it here.")
NOT_YOUR_JOB = tr("Only the member who asked for this image (or a moderator) can cancel it.")
NOT_YOUR_THREAD = tr(
    "On this server only the person who started this thread (and moderators) can change its image. "
    "Use /draw to start your own."
)
CANNOT_SEND = tr("You can't send messages here, so I won't post an image here for you.")
CANNOT_ATTACH = tr("You can't attach files here, so I won't post an image here for you.")
CANNOT_OPEN_THREADS = tr("You can't create public threads here, and the image would open one. Ask a moderator.")
OTHERS_IMAGES_OFF = tr(
    "On this server you can only edit your own images and my results. "
    "A server manager can change that with /threadpaint settings images."
)


@dataclass(frozen=True)
class Member:
    """The person pressing or typing, with their own permissions in the channel where they did it."""

    user_id: int
    role_ids: frozenset[int] = frozenset()
    is_manager: bool = False  # Manage Server
    is_moderator: bool = False  # Manage Threads, Manage Messages or Manage Server
    can_send: bool = True  # Send Messages (Send Messages in Threads inside a thread)
    can_attach: bool = True
    can_create_threads: bool = True  # Create Public Threads


@dataclass(frozen=True)
class Place:
    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None  # a thread's channel


@dataclass(frozen=True)
class TurnHome:
    """Where an existing turn lives: its server and the channels its messages are in (command channel, thread)."""

    guild_id: int | None
    channel_ids: frozenset[int]


@dataclass(frozen=True)
class Request:
    member: Member
    place: Place
    cancel: bool = False  # stops work instead of starting it
    job_owner_id: int | None = None  # the member whose job Cancel would stop
    turn: TurnHome | None = None  # buttons and their modals: the turn the custom id names
    conversation_owner_id: int | None = None  # the work continues (changes) this member's conversation
    opens_thread: bool = False  # the result opens a public thread
    image_author: ImageAuthor | None = None  # "Edit image": who posted the message whose image is taken


def refusal(settings: GuildSettings, request: Request) -> Message | None:
    """Why this member may not do this here (one plain sentence for them), or None when they may."""
    member, place = request.member, request.place
    turn = request.turn
    if turn is not None and (turn.guild_id != place.guild_id or place.channel_id not in turn.channel_ids):
        return NOT_HERE
    if request.cancel:
        # Stopping a job is about whose job it is; allow-lists don't apply, and nothing new is posted.
        if member.user_id == request.job_owner_id or member.is_moderator:
            return None
        return NOT_YOUR_JOB
    if place.guild_id is None:
        return None  # a DM: only the member and the bot are there
    problem = access_problem(
        settings, channel_id=place.channel_id, parent_channel_id=place.parent_channel_id,
        role_ids=member.role_ids, is_manager=member.is_manager,
    )
    if problem:
        return problem
    if not member.can_send:
        return CANNOT_SEND
    if not member.can_attach:
        return CANNOT_ATTACH
    if request.opens_thread and not member.can_create_threads:
        return CANNOT_OPEN_THREADS
    owner = request.conversation_owner_id
    if owner is not None and not may_edit(
        settings, owner_id=owner, user_id=member.user_id, is_moderator=member.is_moderator
    ):
        return NOT_YOUR_THREAD
    if request.image_author == "other" and not settings.edit_others_images:
        return OTHERS_IMAGES_OFF
    return None
