"""One job's exchange with OpenAI: the request, the stream, and the fallbacks when OpenAI forgot something."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.core import observe
from bot.core.costs import PriceTable
from bot.core.engine import OnRetry
from bot.core.errors import Blocked, ChainExpired, ImageError, ItemExpired, Upstream
from bot.core.i18n import Message, tr
from bot.core.images import InputDecoder
from bot.core.masks import prepare_mask
from bot.core.models import ImageRef, InputImage, Job, Turn
from bot.core.pacing import PreviewPacer
from bot.core.ports import Store, Surface
from bot.core.request import ModelConfig, build_request
from bot.core.updates import Completed, Final, Partial, Started, Update
from bot.core.usage import Usage

log = logging.getLogger(__name__)

CHAIN_RESEEDED = tr(
    "OpenAI no longer had this conversation (it keeps them for 30 days), so I continued from the last image."
)
STREAM_BROKE_AFTER_IMAGE = tr(
    "The connection to OpenAI broke after the image was finished, so the cost shown is the price list's."
)
CHAIN_LOST = tr(
    "OpenAI no longer has this conversation and I couldn't find its last image. "
    "Attach the image to /edit to carry on from it."
)
REFERENCE_RESENT = tr("OpenAI no longer had that earlier image, so I sent it again from Discord.")
REFERENCE_LOST = tr("OpenAI no longer has that earlier image and I couldn't fetch it from Discord either.")


@dataclass
class Progress:
    """How far a job's generation got: what an early end is charged (bot.core.costs.PriceTable.produced)."""

    started: bool = False  # OpenAI accepted the request and began streaming
    partials: int = 0  # previews received
    reported: int = 0  # what OpenAI itself reported for a failed response, when it did
    response_id: str | None = None  # from response.created
    stash: asyncio.Task[None] | None = None  # the finished image's outbox write, started as it arrived

    async def stashed(self) -> bool:
        """Whether the finished image is in the outbox already (its write, if any, is awaited here)."""
        if self.stash is None:
            return False
        try:
            await self.stash
        except Exception:
            log.warning("could not stash the finished image early; it is stored with the result", exc_info=True)
            return False
        return True


class Engine(Protocol):
    def generate(
        self, body: dict[str, Any], on_retry: OnRetry | None = None, api_key: str | None = None,
    ) -> AsyncGenerator[Update, None]: ...


class Generator:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        config: ModelConfig,
        *,
        decoder: InputDecoder,
        prices: PriceTable,
        observer: observe.JobObserver,
        preview_interval: float,
        allow_low_moderation: bool,
        on_image: Callable[[int], None],
    ) -> None:
        self._store = store
        self._engine = engine
        self._config = config
        self.decoder = decoder
        self.prices = prices
        self.observer = observer
        self._preview_interval = preview_interval
        # Lowering OpenAI's moderation risks the owner's account: a server's choice counts only if allowed.
        self._allow_low_moderation = allow_low_moderation
        # Called once the finished image arrived: it is paid for, so from then on Cancel is too late.
        self._on_image = on_image

    def partials(self, job: Job) -> int:
        return self._config.partial_images if job.partial_images is None else job.partial_images

    async def generate(
        self, turn_id: int, job: Job, parent: Turn | None, surface: Surface, progress: Progress
    ) -> tuple[Final, Completed, list[Message]]:
        """Stream the job's image; when OpenAI forgot a referenced result or the conversation, send the image."""
        images, refs, notes = list(job.input_images), list(job.references), list[Message]()
        previous = response_id(parent)
        while True:  # at most three tries: each fallback below is taken once
            try:
                final, completed, stream_notes = await self._stream(
                    turn_id, job, previous, images, surface, progress, refs
                )
                return final, completed, [*notes, *stream_notes]
            except ItemExpired:
                if not refs:
                    raise
                # OpenAI dropped the referenced results: send their bytes from Discord instead.
                images = [*await self._resend(refs, surface), *images]
                refs = []
                notes.append(REFERENCE_RESENT)
            except ChainExpired:
                if parent is None or previous is None:
                    raise
                # Stored responses expire after 30 days: carry on from the last image instead.
                last = await self._last_image(parent, surface)
                if last is None:
                    raise ChainExpired(CHAIN_LOST) from None
                images = [last, *images]
                previous = None
                notes.append(CHAIN_RESEEDED)

    async def read_attachments(self, job: Job) -> Job:
        """Download and decode the member's images (in their order) and mask, within the decode limit."""
        raw = [await source() for source in job.input_sources]
        images = tuple([await self.decoder.prepare(data) for data in raw])
        mask = await prepare_mask(await job.mask_source(), raw[0]) if job.mask_source is not None else job.mask
        return replace(job, input_images=images, mask=mask, input_sources=(), mask_source=None)

    async def _resend(self, refs: list[ImageRef], surface: Surface) -> list[InputImage]:
        images = []
        for ref in refs:
            data = await surface.fetch_image(ref.channel_id, ref.message_id)
            if data is None:
                raise ItemExpired(REFERENCE_LOST)
            images.append(await self.decoder.prepare(data))
        return images

    async def parent(self, job: Job) -> Turn | None:
        """The turn this job builds on: the chain's head for /edit, or the result a button was pressed on."""
        if job.branch:
            return await self._store.get_turn(job.parent_turn_id) if job.parent_turn_id is not None else None
        if job.kind != "edit" or job.chain_id is None:
            return None
        return await self._store.get_head(job.chain_id)

    async def _last_image(self, turn: Turn, surface: Surface) -> InputImage | None:
        if turn.reply_channel_id is None or turn.reply_message_id is None:
            return None
        data = await surface.fetch_image(turn.reply_channel_id, turn.reply_message_id)
        if data is None:
            return None
        try:
            return await self.decoder.prepare(data)
        except ImageError:
            return None

    async def _stream(
        self, turn_id: int, job: Job, previous_response_id: str | None, images: list[InputImage], surface: Surface,
        progress: Progress, refs: list[ImageRef] | None = None,
    ) -> tuple[Final, Completed, list[Message]]:
        expected = self.partials(job)
        body = build_request(
            self._config, prompt=job.prompt, options=job.options, user_id=job.user_id,
            previous_response_id=previous_response_id, input_images=images,
            moderation=job.moderation if self._allow_low_moderation else "auto",
            partial_images=expected, action="generate" if job.kind == "draw" else "edit",
            mask=job.mask if images[:1] == list(job.input_images[:1]) else None,  # it fits the member's first image
            references=[ref.call_id for ref in refs or []],
        )

        async def show(partial: Partial) -> None:
            await surface.preview(partial, expected)

        async def retrying(delay: float, attempt: int, attempts: int, error: ImageError) -> None:
            self.observer.openai_error(error.code)
            await surface.retrying(delay, attempt, attempts, error)

        pacer: PreviewPacer[Partial] = PreviewPacer(show, self._preview_interval)
        final: Final | None = None
        try:
            # aclosing: leaving the loop at Completed must close the HTTP stream now, not at garbage collection.
            async with aclosing(self._engine.generate(body, retrying, job.api_key)) as updates:
                async for update in updates:
                    if isinstance(update, Started) and not progress.started:
                        progress.started, progress.response_id = True, update.response_id
                        # Durable, so a crash from here on is charged too (see interrupt_unfinished).
                        await self._store.mark_started(turn_id)
                    elif isinstance(update, Partial):
                        progress.partials += 1
                        pacer.offer(update)
                        del update  # the pacer has it; not held here while the next event is awaited
                    elif isinstance(update, Final):
                        final = update
                        # The image exists and is paid for: from here on it is posted, and Cancel is too late.
                        self._on_image(turn_id)
                        # Into the outbox now, while response.completed (the image again, megabytes) is on its way.
                        progress.stash = asyncio.create_task(
                            self._store.stash_image(turn_id, update.image, update.format), name=f"stash-{turn_id}"
                        )
                        progress.stash.add_done_callback(_retrieve)
                    elif isinstance(update, Completed):
                        if final is None:  # translate() guarantees a Final first; keep mypy and readers sure
                            raise Upstream(tr("OpenAI finished without making an image."))
                        return final, update, []
        except ImageError as error:
            self.observer.openai_error(error.code)
            if final is not None and progress.response_id is not None and not isinstance(error, Blocked):
                # The finished image arrived before the stream broke: post it rather than lose it. Its response
                # may never be stored, so an /edit from it may continue from the image instead (ChainExpired).
                log.warning("turn %s: the stream broke after the finished image (%s); posting it", turn_id, error)
                return final, Completed(progress.response_id, error.usage or Usage()), [STREAM_BROKE_AFTER_IMAGE]
            if error.usage is not None:
                progress.reported = self.prices.cost(
                    error.usage, model=self._config.model, image_model=self._config.image_model
                )
            raise
        finally:
            await pacer.close()
        if final is not None and progress.response_id is not None:
            return final, Completed(progress.response_id, Usage()), [STREAM_BROKE_AFTER_IMAGE]
        raise Upstream(tr("OpenAI ended the response without finishing it. Please try again."))


def _retrieve(task: asyncio.Task[None]) -> None:
    # Progress.stashed() reports a failed stash; a job that failed meanwhile never asks, and has said why already.
    if not task.cancelled():
        task.exception()


def response_id(turn: Turn | None) -> str | None:
    return turn.response_id if turn else None
