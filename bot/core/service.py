"""The job engine: one /draw or /edit from queued to delivered, in conversation order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Protocol

from bot.core.errors import ImageError, NothingToEdit, Upstream
from bot.core.models import ChainRecord, Job, NewTurn, Turn, TurnResult
from bot.core.ordering import ChainLocks
from bot.core.pacing import PreviewPacer
from bot.core.ports import Store, Surface
from bot.core.request import ModelConfig, build_request
from bot.core.updates import Completed, Final, Partial, Update

log = logging.getLogger(__name__)

NOTHING_TO_EDIT = (
    "There is nothing to edit here yet. Use /draw first, run /edit inside one of my image threads, "
    "or attach an image to /edit."
)


class Engine(Protocol):
    def generate(self, body: dict[str, Any]) -> AsyncGenerator[Update, None]: ...


class ImageService:
    def __init__(self, store: Store, engine: Engine, config: ModelConfig, *, preview_interval: float) -> None:
        self._store = store
        self._engine = engine
        self._config = config
        self._preview_interval = preview_interval
        self._locks = ChainLocks()
        self._running: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def chain(self, channel_id: int) -> ChainRecord | None:
        return await self._store.get_chain(channel_id)

    async def check_editable(self, chain_id: int | None, has_image: bool) -> None:
        """Raise NothingToEdit before anything is acknowledged or paid for."""
        if has_image:
            return
        if chain_id is None or await self._store.get_head(chain_id) is None:
            raise NothingToEdit(NOTHING_TO_EDIT)

    async def run(self, job: Job, surface: Surface) -> None:
        """Run a job to the end; every failure is reported through the surface, never raised."""
        if job.interaction_id in self._running:
            log.warning("job %s is already running; ignoring the duplicate", job.interaction_id)
            return
        self._running.add(job.interaction_id)
        self._idle.clear()
        try:
            async with self._locks.hold(job.chain_id, surface.waiting):
                await self._run_in_order(job, surface)
        finally:
            self._running.discard(job.interaction_id)
            if not self._running:
                self._idle.set()

    async def _run_in_order(self, job: Job, surface: Surface) -> None:
        try:
            head = await self._store.get_head(job.chain_id) if job.chain_id is not None else None
            continues = job.kind == "edit" and head is not None
            if job.kind == "edit" and not continues and job.input_image is None:
                raise NothingToEdit(NOTHING_TO_EDIT)
        except ImageError as error:
            await _report(surface, error)
            return
        turn_id = await self._store.create_turn(self._new_turn(job, head if continues else None))
        log.info("job %s turn %s: %s in %s", job.interaction_id, turn_id, job.kind, job.chain_id)
        try:
            final, completed = await self._generate(job, head if continues else None, surface)
            delivery = await surface.deliver(final, job.prompt)
        except ImageError as error:
            await self._store.fail_turn(turn_id, f"{error.code}: {error}")
            await _report(surface, error)
            return
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job.interaction_id)
            await self._store.fail_turn(turn_id, f"internal: {type(exc).__name__}")
            await _report(surface, Upstream("Something went wrong while posting your image. Please try again."))
            return
        result = TurnResult(completed.response_id, final.call_id, final.revised_prompt, completed.usage)
        await self._store.complete_turn(turn_id, result, delivery, owner_id=job.user_id, guild_id=job.guild_id)
        log.info("job %s turn %s done: head of %s is %s", job.interaction_id, turn_id, delivery.chain_id,
                 completed.response_id)

    async def _generate(self, job: Job, head: Turn | None, surface: Surface) -> tuple[Final, Completed]:
        body = build_request(
            self._config,
            prompt=job.prompt,
            options=job.options,
            user_id=job.user_id,
            previous_response_id=head.response_id if head else None,
            input_image=job.input_image,
        )
        expected = self._config.partial_images

        async def show(partial: Partial) -> None:
            await surface.preview(partial, expected)

        pacer: PreviewPacer[Partial] = PreviewPacer(show, self._preview_interval)
        final: Final | None = None
        try:
            # aclosing: leaving the loop at Completed must close the HTTP stream now, not at garbage collection.
            async with aclosing(self._engine.generate(body)) as updates:
                async for update in updates:
                    if isinstance(update, Partial):
                        pacer.offer(update)
                    elif isinstance(update, Final):
                        final = update
                    elif isinstance(update, Completed):
                        if final is None:  # translate() guarantees a Final first; keep mypy and readers sure
                            raise Upstream("OpenAI finished without making an image.")
                        return final, update
        finally:
            await pacer.close()
        raise Upstream("OpenAI ended the response without finishing it. Please try again.")

    @staticmethod
    def _new_turn(job: Job, head: Turn | None) -> NewTurn:
        return NewTurn(
            chain_id=job.chain_id,
            interaction_id=job.interaction_id,
            user_id=job.user_id,
            kind=job.kind,
            prompt=job.prompt,
            options=job.options,
            parent_turn_id=head.id if head else None,
            previous_response_id=head.response_id if head else None,
            had_input_image=job.input_image is not None,
        )


async def _report(surface: Surface, error: ImageError) -> None:
    try:
        await surface.failed(error)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not tell the member about: %s", error)
