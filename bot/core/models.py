"""Records the job engine works with; storage returns these, never database rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.core.i18n import Message
from bot.core.options import ImageOptions
from bot.core.usage import Usage

JobKind = Literal["draw", "edit"]
# thread: a thread the bot opened on its reply; channel: the channel itself carries the chain.
ChainKind = Literal["thread", "channel"]
TurnStatus = Literal["queued", "running", "delivering", "done", "failed", "interrupted"]


PaidBy = Literal["owner", "server"]  # the bot owner's OPENAI_API_KEY, or the server's own key


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime: str  # image/png, image/jpeg or image/webp


@dataclass(frozen=True)
class ImageRef:
    """An earlier result, sent to OpenAI by its image_generation_call id; its Discord message is the fallback."""

    call_id: str
    channel_id: int
    message_id: int


@dataclass(frozen=True)
class Job:
    """One /draw or /edit, as the cog hands it to the service."""

    interaction_id: int
    user_id: int
    guild_id: int | None
    channel_id: int
    kind: JobKind
    prompt: str
    options: ImageOptions
    # The conversation this job belongs to; None means a new thread is opened on the reply.
    chain_id: int | None
    # Images sent with the instruction, in the member's order (uploads, or a message's images).
    input_images: tuple[InputImage, ...] = ()
    # The bot's reply message, known once the status line is shown; used after restarts and token expiry.
    reply_channel_id: int | None = None
    reply_message_id: int | None = None
    # Per-server choices (see bot.core.guild_settings); None means the bot-wide setting.
    moderation: str = "auto"
    partial_images: int | None = None
    attachments: int = 0  # images attached (they are read after the job is admitted)
    mask: InputImage | None = None  # transparent pixels mark where to repaint the first input image
    # Earlier results used as input images by reference, before any uploads (OpenAI keeps them for 30 days).
    references: tuple[ImageRef, ...] = ()
    # Downloads of the attached images and mask; called (and the bytes decoded) only once the job has a slot.
    input_sources: tuple[Callable[[], Awaitable[bytes]], ...] = field(default=(), compare=False, repr=False)
    mask_source: Callable[[], Awaitable[bytes]] | None = field(default=None, compare=False, repr=False)
    # Buttons on an older result branch from that turn instead of the head; None with branch=True: fresh.
    branch: bool = False
    parent_turn_id: int | None = None
    # Said on the result, before the cost (e.g. the size was mapped to the nearest one the model makes).
    notes: tuple[Message, ...] = ()
    # /draw count: the request's group (its interaction id) and this job's cell number (1-based) in the grid.
    variation_group: int | None = None
    variation_index: int | None = None
    # Post the previews and the result as spoiler attachments (the server's spoiler settings for where it lands).
    spoiler: bool = False
    # The server's own OpenAI key pays (README "A server's own key"); never shown, logged or stored in the clear.
    api_key: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ChainRecord:
    channel_id: int
    guild_id: int | None
    parent_channel_id: int | None
    owner_id: int
    kind: ChainKind
    head_turn_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Turn:
    id: int
    chain_id: int | None
    interaction_id: int | None
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: JobKind
    prompt: str
    options: ImageOptions
    parent_turn_id: int | None
    previous_response_id: str | None
    response_id: str | None
    image_call_id: str | None
    revised_prompt: str | None
    status: TurnStatus
    error_code: str | None
    error: str | None
    reply_channel_id: int | None
    reply_message_id: int | None
    delivery_attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_reserved_micros: int = 0
    cost_micros: int = 0
    created_at: datetime | None = None
    finished_at: datetime | None = None
    variation_group: int | None = None
    variation_index: int | None = None


@dataclass(frozen=True)
class NewTurn:
    chain_id: int | None
    interaction_id: int | None  # None for the 2nd.. variation of one command (the id is unique per turn)
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: JobKind
    prompt: str
    options: ImageOptions
    had_input_image: bool
    reply_channel_id: int | None
    reply_message_id: int | None
    variation_group: int | None = None
    variation_index: int | None = None
    paid_by: PaidBy = "owner"  # whose OpenAI key pays: the owner's caps count only "owner"


@dataclass(frozen=True)
class PendingDelivery:
    """A finished, paid-for image that was not posted yet (found in the outbox after a restart)."""

    turn: Turn
    image: bytes
    format: str


@dataclass(frozen=True)
class TurnResult:
    response_id: str
    image_call_id: str
    revised_prompt: str | None
    usage: Usage
    cost_micros: int = 0


@dataclass(frozen=True)
class Delivery:
    """Where the finished image landed and which conversation it now heads."""

    chain_id: int
    chain_kind: ChainKind
    parent_channel_id: int | None
    message_channel_id: int
    message_id: int
    # A variation lands in its grid without becoming the head; it keeps its image until "Use" picks it.
    moves_head: bool = True
