"""The job engine: one /draw or /edit from queued to delivered, in conversation order, crash-safe."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.core import observe
from bot.core.budgets import BudgetPolicy, limits_for
from bot.core.costs import PriceTable, format_usd
from bot.core.engine import OnRetry
from bot.core.errors import (
    Blocked,
    Cancelled,
    ChainExpired,
    ImageError,
    ItemExpired,
    NothingToEdit,
    OverBudget,
    QuotaExhausted,
    Unavailable,
    Upstream,
)
from bot.core.images import DECODE_LIMIT, InputDecoder
from bot.core.masks import prepare_mask
from bot.core.models import ChainRecord, ImageRef, InputImage, Job, NewTurn, Turn, TurnResult
from bot.core.ordering import ChainLocks
from bot.core.pacing import PreviewPacer
from bot.core.ports import Store, Surface
from bot.core.queue import FairQueue
from bot.core.request import ModelConfig, build_request
from bot.core.updates import Completed, Final, Partial, Started, Update
from bot.core.usage import Usage

log = logging.getLogger(__name__)

NOTHING_TO_EDIT = (
    "There is nothing to edit here yet. Use /draw first, run /edit inside one of my image threads, "
    "or attach an image to /edit."
)
CHAIN_RESEEDED = (
    "OpenAI no longer had this conversation (it keeps them for 30 days), so I continued from the last image."
)
STREAM_BROKE_AFTER_IMAGE = (
    "The connection to OpenAI broke after the image was finished, so the cost shown is the price list's."
)
CHAIN_LOST = (
    "OpenAI no longer has this conversation and I couldn't find its last image. "
    "Attach the image to /edit to carry on from it."
)
REFERENCE_RESENT = "OpenAI no longer had that earlier image, so I sent it again from Discord."
REFERENCE_LOST = "OpenAI no longer has that earlier image and I couldn't fetch it from Discord either."
RESTARTING = "I'm restarting right now, so I can't start new images. Please try again in a minute."
OVER_DEADLINE = (
    "This image took too long: OpenAI had not finished it after {minutes}, so I stopped waiting. "
    "Please try again, perhaps with a lower quality."
)
MAX_DELIVERY_ATTEMPTS = 3
# Seconds before the 2nd and 3rd try of a refused delivery: a permission fixed within minutes still lands.
DELIVERY_RETRY_DELAYS = (60.0, 600.0)
# Discord re-delivers an interaction within seconds at most; remembering this many ids is plenty.
CLAIM_MEMORY = 10_000


@dataclass
class Progress:
    """How far a job's generation got: what an early end is charged (bot.core.costs.PriceTable.produced)."""

    started: bool = False  # OpenAI accepted the request and began streaming
    partials: int = 0  # previews received
    reported: int = 0  # what OpenAI itself reported for a failed response, when it did
    response_id: str | None = None  # from response.created


class DeadlineExceeded(Upstream):
    code = "deadline"


@dataclass(frozen=True)
class Admission:
    turn_id: int
    estimate: int  # micro-dollars held against budgets until the real cost is known


class Engine(Protocol):
    def generate(self, body: dict[str, Any], on_retry: OnRetry | None = None) -> AsyncGenerator[Update, None]: ...


class ImageService:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        config: ModelConfig,
        *,
        preview_interval: float,
        prices: PriceTable | None = None,
        max_concurrent: int = 8,
        max_per_user: int = 2,
        budgets: BudgetPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        observer: observe.JobObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        decode_limit: int = DECODE_LIMIT,
        job_deadline: float | None = None,
        allow_low_moderation: bool = False,
    ) -> None:
        self._store = store
        self.decoder = InputDecoder(decode_limit)
        self.sleep = sleep  # waits between delivery retries; public so tests can drive it
        self._retries: set[asyncio.Task[None]] = set()
        self.observer = observer or observe.NullObserver()
        self._engine = engine
        self._config = config
        self._preview_interval = preview_interval
        self.prices = prices or PriceTable()
        self.queue = FairQueue(max_concurrent)
        self._max_per_user = max_per_user
        self.budgets = budgets or BudgetPolicy()
        self._clock = clock
        self._job_deadline = job_deadline
        # Lowering OpenAI's moderation risks the owner's account: a server's choice counts only if allowed.
        self._allow_low_moderation = allow_low_moderation
        self._progress: dict[int, Progress] = {}  # by turn id, while running
        self._locks = ChainLocks()
        self._tasks: dict[int, asyncio.Task[Any]] = {}  # by turn id
        self._cancel_requests: dict[int, int] = {}  # turn id -> who pressed Cancel
        self._delivering: set[int] = set()  # paid-for results being posted: too late to cancel
        self._claimed: OrderedDict[int, None] = OrderedDict()
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def claim(self, interaction_id: int) -> bool:
        """True the first time an interaction is seen; False for a repeat delivery of it (synchronous on purpose)."""
        if interaction_id in self._claimed:
            return False
        self._claimed[interaction_id] = None
        while len(self._claimed) > CLAIM_MEMORY:
            self._claimed.popitem(last=False)
        return True

    async def chain(self, channel_id: int) -> ChainRecord | None:
        return await self._store.get_chain(channel_id)

    async def check_editable(self, chain_id: int | None, has_image: bool) -> None:
        """Raise NothingToEdit before anything is acknowledged or paid for."""
        if has_image:
            return
        if chain_id is None or await self._store.get_head(chain_id) is None:
            raise NothingToEdit(NOTHING_TO_EDIT)

    def estimate(self, job: Job, input_images: int) -> int:
        return self.prices.estimate(
            job.options, partial_images=self._partials(job), input_images=input_images,
            model=self._config.model, image_model=self._config.image_model,
        )

    async def admit(self, job: Job, *, budgets: BudgetPolicy | None = None) -> Admission | None:
        """Queue a job, or raise why it can't run (restarting, too many in flight, over budget).

        Returns the turn and its estimate, or None for a repeated delivery of an interaction that already has a job.
        Nothing is charged here: the estimate is only held against budgets until the real cost is known.
        """
        if not self.accepting:
            self.observer.job_finished(observe.REFUSED)
            raise Unavailable(RESTARTING)
        policy = self.budgets.tightened_by(budgets) if budgets else self.budgets
        reserve = self.estimate(job, _input_images(job))
        limits = limits_for(policy, user_id=job.user_id, guild_id=job.guild_id, now=self._clock())
        try:
            turn_id = await self._store.create_turn(
                _new_turn(job), reserve=reserve, max_in_flight=self._max_per_user, limits=limits
            )
        except ImageError as error:
            self.observer.job_finished(observe.OVER_BUDGET if isinstance(error, OverBudget) else observe.REFUSED)
            raise
        if turn_id is None:
            return None
        # The rest of this command (its reply, the job itself) logs under this job's id.
        observe.current_job.set(observe.JobTag(turn_id, job.interaction_id))
        return Admission(turn_id, reserve)

    async def run(self, turn_id: int, job: Job, surface: Surface) -> None:
        """Run an admitted job to the end; every failure is reported through the surface, never raised."""
        if turn_id in self._tasks:
            return
        tag = observe.current_job.set(observe.JobTag(turn_id, job.interaction_id))
        try:
            inner = asyncio.create_task(self._job(turn_id, job, surface), name=f"job-{turn_id}")
        finally:
            observe.current_job.reset(tag)
        self._tasks[turn_id] = inner
        self._idle.clear()
        try:
            # The job runs in its own task so Cancel and shutdown can stop it without killing the command.
            await asyncio.shield(inner)
        except asyncio.CancelledError:
            inner.cancel()
            await asyncio.wait([inner])
            raise
        finally:
            self._tasks.pop(turn_id, None)
            self._cancel_requests.pop(turn_id, None)
            self._delivering.discard(turn_id)
            self._progress.pop(turn_id, None)
            if not self._tasks:
                self._idle.set()

    async def abandon(self, turn_id: int, error: ImageError) -> None:
        """An admitted job that never started (e.g. its attachment was bad): it costs nothing."""
        self.observer.job_finished(observe.FAILED)
        await self._store.fail_turn(turn_id, error.code, str(error))

    def cancel(self, turn_id: int, by_user: int) -> bool:
        task = self._tasks.get(turn_id)
        if task is None or task.done() or turn_id in self._delivering:
            return False
        self._cancel_requests[turn_id] = by_user
        task.cancel()
        return True

    async def _job(self, turn_id: int, job: Job, surface: Surface) -> None:
        try:
            async with self._locks.hold(job.chain_id, surface.waiting):
                position = PreviewPacer(surface.queued, max(self._preview_interval, 1.0))
                try:
                    async with self.queue.slot(_queue_key(job), position.offer):
                        await position.close()
                        await self._run_turn(turn_id, job, surface)
                finally:
                    await position.close()
        except asyncio.CancelledError:
            by = self._cancel_requests.get(turn_id)
            if by is None:
                self.observer.job_finished(observe.INTERRUPTED)
                await self._interrupt(turn_id, surface, self._charge(turn_id, job))
                raise
            self.observer.job_finished(observe.CANCELLED)
            # Cancelled from Discord: the job ends here, normally. Free if OpenAI had not started on it;
            # otherwise OpenAI has billed what it made, and so is the member.
            charge = self._charge(turn_id, job)
            await self._store.fail_turn(turn_id, Cancelled.code, f"cancelled by {by}", charge=charge)
            await _report(surface, _costing(Cancelled(f"Cancelled by <@{by}>. Nothing was posted."), charge))

    async def shutdown(self, grace: float) -> None:
        """Stop taking jobs, let running ones finish for `grace` seconds, interrupt the rest."""
        self.accepting = False
        for retry in list(self._retries):  # their images are in the outbox; the next start tries again
            retry.cancel()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        log.info("waiting up to %.1f s for %d running jobs", grace, len(tasks))
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("interrupting %d jobs that did not finish in time", len(pending))
            await asyncio.wait(pending, timeout=5)

    async def _run_turn(self, turn_id: int, job: Job, surface: Surface) -> None:
        try:
            if job.input_sources:  # only now, holding a slot: MAX_CONCURRENT_JOBS bounds decoding too
                job = await self._read_attachments(job)
            parent = await self._parent(job)
            if job.kind == "edit" and parent is None and not job.input_images and not job.references:
                raise NothingToEdit(NOTHING_TO_EDIT)
            await self._store.start_turn(turn_id, parent.id if parent else None, _response_id(parent))
            log.info("job %s turn %s: %s in %s", job.interaction_id, turn_id, job.kind, job.chain_id)
            progress = self._progress.setdefault(turn_id, Progress())
            final, completed, notes = await self._within_deadline(self._generate(turn_id, job, parent, surface))
        except ImageError as error:
            await self._fail(turn_id, error, surface, self._charge(turn_id, job))
            return
        cost = self.prices.delivered(
            completed.usage, size=final.size or job.options.size, quality=final.quality or job.options.quality,
            partial_images=progress.partials, model=self._config.model, image_model=self._config.image_model,
        )
        self.observer.spent(cost)
        result = TurnResult(completed.response_id, final.call_id, final.revised_prompt, completed.usage, cost)
        # The image is paid for: keep it durably before trying to post it anywhere, and never cancel it now.
        self._delivering.add(turn_id)
        await self._store.save_result(turn_id, result, final.image, final.format)
        notes = [*job.notes, *notes, f"Cost {format_usd(cost)}."]
        await self.deliver(turn_id, final, job.prompt, notes, surface, owner_id=job.user_id, guild_id=job.guild_id)

    async def deliver(
        self, turn_id: int, final: Final, prompt: str, notes: list[str], surface: Surface, *,
        owner_id: int, guild_id: int | None,
    ) -> bool:
        """Post a finished image and move the head. On failure the image stays in the outbox and is tried again
        a few minutes later; after MAX_DELIVERY_ATTEMPTS the bot gives up and hands it to the member (a DM)."""
        try:
            delivery = await surface.deliver(final, prompt, notes)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = await self._store.note_delivery_attempt(turn_id, f"{type(exc).__name__}: {exc}")
            log.error("turn %s: posting the finished image failed (attempt %d): %s", turn_id, attempts, exc)
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                await self._give_up(turn_id, final, prompt, surface, owner_id, f"{attempts} attempts: {exc}")
                return False
            if attempts == 1:
                await _report(surface, Upstream(
                    "Your image is ready but I couldn't post it here (Discord refused it). It is saved and I'll "
                    "try again in a few minutes; check that I can send messages and attach files."
                ))
            delay = DELIVERY_RETRY_DELAYS[min(attempts, len(DELIVERY_RETRY_DELAYS)) - 1]
            retry = asyncio.create_task(self._deliver_later(
                delay, turn_id, final, prompt, notes, surface, owner_id=owner_id, guild_id=guild_id,
            ), name=f"deliver-turn-{turn_id}")
            self._retries.add(retry)
            retry.add_done_callback(self._retries.discard)
            return False
        await self._store.complete_turn(turn_id, delivery, owner_id=owner_id, guild_id=guild_id)
        self.observer.job_finished(observe.DONE)
        log.info("turn %s done: head of %s moved", turn_id, delivery.chain_id)
        return True

    async def _deliver_later(
        self, delay: float, turn_id: int, final: Final, prompt: str, notes: list[str], surface: Surface, *,
        owner_id: int, guild_id: int | None,
    ) -> None:
        await self.sleep(delay)
        try:
            await self.deliver(turn_id, final, prompt, notes, surface, owner_id=owner_id, guild_id=guild_id)
        except Exception:
            log.exception("turn %s: retrying the delivery failed", turn_id)

    async def _give_up(
        self, turn_id: int, final: Final, prompt: str, surface: Surface, owner_id: int, why: str
    ) -> None:
        """Never "delivering" forever: the turn fails, and the image goes to the member by DM (or, if that fails
        too, stays in the outbox table for the owner until retention removes it)."""
        try:
            handed = await surface.hand_over(final, prompt, owner_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("turn %s: could not send the image to the member either", turn_id, exc_info=True)
            handed = False
        await self._store.abandon_delivery(turn_id, f"gave up after {why}", keep_image=not handed)
        self.observer.job_finished(observe.FAILED)
        log.error("turn %s: gave up posting the finished image after %s; %s", turn_id, why,
                  "sent to the member by DM" if handed else "kept in the outbox table")
        await _report(surface, Upstream(
            "I couldn't post your image here, so I sent it to you in a direct message." if handed else
            "I couldn't post your image here or send it to you directly; the bot's owner still has it."
        ))

    async def _within_deadline(
        self, generation: Awaitable[tuple[Final, Completed, list[str]]]
    ) -> tuple[Final, Completed, list[str]]:
        """JOB_DEADLINE bounds the whole generation, however steadily OpenAI keeps sending something."""
        if self._job_deadline is None:
            return await generation
        try:
            async with asyncio.timeout(self._job_deadline):
                return await generation
        except TimeoutError:
            minutes = _duration(self._job_deadline)
            raise DeadlineExceeded(
                OVER_DEADLINE.format(minutes=minutes), detail=f"JOB_DEADLINE of {self._job_deadline:g} s passed"
            ) from None

    def _charge(self, turn_id: int, job: Job) -> int:
        """What a job that ended early is charged: nothing before OpenAI started, else what it made."""
        progress = self._progress.get(turn_id)
        if progress is None or not progress.started:
            return 0
        produced = self.prices.produced(
            job.options, partials_seen=progress.partials, input_images=_input_images(job),
            model=self._config.model, image_model=self._config.image_model,
        )
        return max(produced, progress.reported)

    async def _generate(
        self, turn_id: int, job: Job, parent: Turn | None, surface: Surface
    ) -> tuple[Final, Completed, list[str]]:
        images, refs, notes = list(job.input_images), list(job.references), list[str]()
        previous = _response_id(parent)
        while True:  # at most three tries: each fallback below is taken once
            try:
                final, completed, stream_notes = await self._stream(turn_id, job, previous, images, surface, refs)
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

    async def _read_attachments(self, job: Job) -> Job:
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

    async def _parent(self, job: Job) -> Turn | None:
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
        refs: list[ImageRef] | None = None,
    ) -> tuple[Final, Completed, list[str]]:
        expected = self._partials(job)
        progress = self._progress.setdefault(turn_id, Progress())
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
            async with aclosing(self._engine.generate(body, retrying)) as updates:
                async for update in updates:
                    if isinstance(update, Started) and not progress.started:
                        progress.started, progress.response_id = True, update.response_id
                        # Durable, so a crash from here on is charged too (see interrupt_unfinished).
                        await self._store.mark_started(turn_id)
                    elif isinstance(update, Partial):
                        progress.partials += 1
                        pacer.offer(update)
                    elif isinstance(update, Final):
                        final = update
                        # The image exists and is paid for: from here on it is posted, and Cancel is too late.
                        self._delivering.add(turn_id)
                    elif isinstance(update, Completed):
                        if final is None:  # translate() guarantees a Final first; keep mypy and readers sure
                            raise Upstream("OpenAI finished without making an image.")
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
        raise Upstream("OpenAI ended the response without finishing it. Please try again.")

    async def _fail(self, turn_id: int, error: ImageError, surface: Surface, charge: int) -> None:
        if isinstance(error, QuotaExhausted):
            log.error("OpenAI says the account is out of credit (insufficient_quota): add credit or raise the "
                      "project's budget; every job fails until then")
        self.observer.job_finished(observe.BLOCKED if isinstance(error, Blocked) else observe.FAILED)
        log.warning("turn %s failed: %s (error id %s): %s", turn_id, error.code, error.error_id, error)
        await self._store.fail_turn(turn_id, error.code, str(error), charge=charge)
        await _report(surface, _costing(error, charge))

    async def _interrupt(self, turn_id: int, surface: Surface, charge: int) -> None:
        await asyncio.shield(self._store.interrupt_turn(turn_id, charge=charge))
        try:
            async with asyncio.timeout(2):
                await asyncio.shield(surface.interrupted(charge))
        except (TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.warning("could not mark turn %s as interrupted in Discord", turn_id, exc_info=True)


    def _partials(self, job: Job) -> int:
        return self._config.partial_images if job.partial_images is None else job.partial_images


def _queue_key(job: Job) -> Hashable:
    # Fairness is between servers; all DMs together are one lane, like one server, whoever sends them.
    return ("guild", job.guild_id) if job.guild_id is not None else ("dms",)


def _input_images(job: Job) -> int:
    continues = job.kind == "edit" and job.chain_id is not None
    return max(len(job.input_images), job.attachments) + len(job.references) + int(continues)


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"


def _costing(error: ImageError, charge: int) -> ImageError:
    """The member's message with what OpenAI had already billed, when it billed anything."""
    if not charge:
        return error
    shown = copy.copy(error)
    shown.user_message = (
        f"{error.user_message} OpenAI had already started on it, so it cost {format_usd(charge)}."
    )
    return shown


def _response_id(turn: Turn | None) -> str | None:
    return turn.response_id if turn else None


def _new_turn(job: Job) -> NewTurn:
    return NewTurn(
        chain_id=job.chain_id,
        interaction_id=job.interaction_id,
        guild_id=job.guild_id,
        channel_id=job.channel_id,
        user_id=job.user_id,
        kind=job.kind,
        prompt=job.prompt,
        options=job.options,
        had_input_image=bool(job.input_images or job.references) or job.attachments > 0,
        reply_channel_id=job.reply_channel_id,
        reply_message_id=job.reply_message_id,
    )


async def _report(surface: Surface, error: ImageError) -> None:
    try:
        await surface.failed(error)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not tell the member about: %s", error)
