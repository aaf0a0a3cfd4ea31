"""The job engine: one /draw or /edit from queued to delivered, in conversation order, crash-safe."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.core import observe
from bot.core.budgets import BudgetLimit, BudgetPolicy, limits_for
from bot.core.costs import PriceTable, format_usd
from bot.core.delivery import Deliveries, costing, report
from bot.core.errors import (
    Blocked,
    Cancelled,
    ImageError,
    NothingToEdit,
    OverBudget,
    QuotaExhausted,
    Unavailable,
    Upstream,
)
from bot.core.generation import Engine, Generator, Progress, response_id
from bot.core.i18n import Message, Text, tr, tr_n
from bot.core.images import DECODE_LIMIT, InputDecoder
from bot.core.models import ChainRecord, Job, NewTurn, TurnResult
from bot.core.ordering import ChainLocks
from bot.core.pacing import PreviewPacer
from bot.core.ports import Store, Surface
from bot.core.queue import FairQueue
from bot.core.request import ModelConfig
from bot.core.updates import Completed, Final

log = logging.getLogger(__name__)

NOTHING_TO_EDIT = tr(
    "There is nothing to edit here yet. Use /draw first, run /edit inside one of my image threads, "
    "or attach an image to /edit."
)
RESTARTING = tr("I'm restarting right now, so I can't start new images. Please try again in a minute.")
# Discord re-delivers an interaction within seconds at most; remembering this many ids is plenty.
CLAIM_MEMORY = 10_000


class DeadlineExceeded(Upstream):
    code = "deadline"


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


# call_later(delay, callback): the event loop's timer by default; tests pass a clock they move by hand.
CallLater = Callable[[float, Callable[[], object]], TimerHandle]


def loop_call_later(delay: float, callback: Callable[[], object]) -> TimerHandle:
    return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(frozen=True)
class Admission:
    turn_id: int
    estimate: int  # micro-dollars held against budgets until the real cost is known


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
        call_later: CallLater = loop_call_later,
        allow_low_moderation: bool = False,
    ) -> None:
        self._store = store
        self.observer = observer or observe.NullObserver()
        self._config = config
        self._preview_interval = preview_interval
        self.prices = prices or PriceTable()
        self._delivering: set[int] = set()  # paid-for results being posted: too late to cancel
        self._deliveries = Deliveries(store, self.observer, sleep)
        self._generator = Generator(
            store, engine, config, decoder=InputDecoder(decode_limit), prices=self.prices, observer=self.observer,
            preview_interval=preview_interval, allow_low_moderation=allow_low_moderation,
            on_image=self._delivering.add,
        )
        self.queue = FairQueue(max_concurrent)
        self._max_per_user = max_per_user
        self.budgets = budgets or BudgetPolicy()
        self._clock = clock
        self._job_deadline = job_deadline
        self.call_later = call_later  # the JOB_DEADLINE timer
        self._progress: dict[int, Progress] = {}  # by turn id, while running
        self._locks = ChainLocks()
        self._tasks: dict[int, asyncio.Task[Any]] = {}  # by turn id
        self._cancel_requests: dict[int, int] = {}  # turn id -> who pressed Cancel
        self._claimed: OrderedDict[int, None] = OrderedDict()
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        """The wait between delivery retries; tests set it to drive the retries by hand."""
        return self._deliveries.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], Awaitable[None]]) -> None:
        self._deliveries.sleep = value

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
            job.options, partial_images=self._generator.partials(job), input_images=input_images,
            model=self._config.model, image_model=self._config.image_model,
        )

    async def admit(self, job: Job, *, budgets: BudgetPolicy | None = None) -> Admission | None:
        """Queue a job, or raise why it can't run (restarting, too many in flight, over budget).

        Returns the turn and its estimate, or None for a repeated delivery of an interaction that already has a job.
        Nothing is charged here: the estimate is only held against budgets until the real cost is known.
        """
        reserve, limits = self._admission_terms(job, budgets)
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

    async def admit_variations(
        self, job: Job, count: int, *, budgets: BudgetPolicy | None = None
    ) -> list[tuple[Admission, Job]] | None:
        """Queue `count` variations of a /draw as one request: all admitted or none, the budgets checked against
        their total (the refusal names it), the member's limit on jobs in flight counting them once. Each then
        runs (and waits for a slot) on its own."""
        reserve, limits = self._admission_terms(job, budgets)
        jobs = [replace(job, variation_group=job.interaction_id, variation_index=i + 1) for i in range(count)]
        # The interaction id is unique per turn: only the first variation carries it (for repeat deliveries).
        turns = [replace(_new_turn(j), interaction_id=None) if j.variation_index != 1 else _new_turn(j) for j in jobs]
        try:
            ids = await self._store.create_turns(turns, reserve=reserve, max_in_flight=self._max_per_user,
                                                 limits=limits)
        except ImageError as error:
            self.observer.job_finished(observe.OVER_BUDGET if isinstance(error, OverBudget) else observe.REFUSED)
            raise
        if ids is None:
            return None
        observe.current_job.set(observe.JobTag(ids[0], job.interaction_id))
        return [(Admission(turn_id, reserve), j) for turn_id, j in zip(ids, jobs, strict=True)]

    def _admission_terms(self, job: Job, budgets: BudgetPolicy | None) -> tuple[int, list[BudgetLimit]]:
        """What one job holds against the budgets, and the limits it is checked against (or why it can't run)."""
        if not self.accepting:
            self.observer.job_finished(observe.REFUSED)
            raise Unavailable(RESTARTING)
        policy = self.budgets.tightened_by(budgets) if budgets else self.budgets
        if job.api_key is not None:
            # The server's own key pays: the owner's bot-wide caps are about the owner's money, not this.
            policy = replace(policy, bot_daily=None, bot_monthly=None)
        reserve = self.estimate(job, _input_images(job))
        return reserve, limits_for(policy, user_id=job.user_id, guild_id=job.guild_id, now=self._clock())

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
            # Variations never move the head, so they run side by side instead of one after another.
            lock = job.chain_id if job.variation_group is None else None
            async with self._locks.hold(lock, surface.waiting):
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
            cancelled = Cancelled(tr("Cancelled by {member}. Nothing was posted.", member=f"<@{by}>"))
            await report(surface, costing(cancelled, charge))

    async def shutdown(self, grace: float) -> None:
        """Stop taking jobs, let running ones finish for `grace` seconds, interrupt the rest."""
        self.accepting = False
        self._deliveries.cancel_retries()
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
                job = await self._generator.read_attachments(job)
            parent = await self._generator.parent(job)
            if job.kind == "edit" and parent is None and not job.input_images and not job.references:
                raise NothingToEdit(NOTHING_TO_EDIT)
            await self._store.start_turn(turn_id, parent.id if parent else None, response_id(parent))
            log.info("job %s turn %s: %s in %s", job.interaction_id, turn_id, job.kind, job.chain_id)
            progress = self._progress.setdefault(turn_id, Progress())
            final, completed, notes = await self._within_deadline(
                self._generator.generate(turn_id, job, parent, surface, progress)
            )
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
        stashed = await progress.stashed()
        await self._store.save_result(turn_id, result, None if stashed else final.image, final.format)
        notes = [*job.notes, *notes, tr("Cost {cost}.", cost=format_usd(cost))]
        await self.deliver(turn_id, final, job.prompt, notes, surface, owner_id=job.user_id, guild_id=job.guild_id)

    async def deliver(
        self, turn_id: int, final: Final, prompt: str, notes: list[Message], surface: Surface, *,
        owner_id: int, guild_id: int | None,
    ) -> bool:
        """Post a finished image and move the head (see Deliveries.deliver); used again by crash recovery."""
        return await self._deliveries.deliver(
            turn_id, final, prompt, notes, surface, owner_id=owner_id, guild_id=guild_id
        )

    async def _within_deadline(
        self, generation: Awaitable[tuple[Final, Completed, list[Message]]]
    ) -> tuple[Final, Completed, list[Message]]:
        """JOB_DEADLINE bounds the whole generation, however steadily OpenAI keeps sending something."""
        if self._job_deadline is None:
            return await generation
        try:
            async with asyncio.timeout(None) as timeout:
                # Moving the timeout to "now" cancels the generation at the next turn of the loop.
                timer = self.call_later(
                    self._job_deadline, lambda: timeout.reschedule(asyncio.get_running_loop().time())
                )
                try:
                    return await generation
                finally:
                    timer.cancel()
        except TimeoutError:
            raise DeadlineExceeded(
                tr("This image took too long: OpenAI had not finished it after {duration}, so I stopped waiting. "
                   "Please try again, perhaps with a lower quality.", duration=_duration(self._job_deadline)),
                detail=f"JOB_DEADLINE of {self._job_deadline:g} s passed",
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

    async def _fail(self, turn_id: int, error: ImageError, surface: Surface, charge: int) -> None:
        if isinstance(error, QuotaExhausted):
            log.error("OpenAI says the account is out of credit (insufficient_quota): add credit or raise the "
                      "project's budget; every job fails until then")
        self.observer.job_finished(observe.BLOCKED if isinstance(error, Blocked) else observe.FAILED)
        log.warning("turn %s failed: %s (error id %s): %s", turn_id, error.code, error.error_id, error)
        await self._store.fail_turn(turn_id, error.code, str(error), charge=charge)
        await report(surface, costing(error, charge))

    async def _interrupt(self, turn_id: int, surface: Surface, charge: int) -> None:
        await asyncio.shield(self._store.interrupt_turn(turn_id, charge=charge))
        try:
            async with asyncio.timeout(2):
                await asyncio.shield(surface.interrupted(charge))
        except (TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.warning("could not mark turn %s as interrupted in Discord", turn_id, exc_info=True)



def _queue_key(job: Job) -> Hashable:
    # Fairness is between servers; all DMs together are one lane, like one server, whoever sends them.
    return ("guild", job.guild_id) if job.guild_id is not None else ("dms",)


def _input_images(job: Job) -> int:
    continues = job.kind == "edit" and job.chain_id is not None
    return max(len(job.input_images), job.attachments) + len(job.references) + int(continues)


def _duration(seconds: float) -> Text:
    if seconds >= 120:
        return tr_n("{value} minute", "{value} minutes", int(seconds / 60), value=f"{seconds / 60:g}")
    return tr_n("{value} second", "{value} seconds", int(seconds), value=f"{seconds:g}")


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
        variation_group=job.variation_group,
        variation_index=job.variation_index,
        paid_by="server" if job.api_key is not None else "owner",
    )


