"""Posting a paid-for image: on failure it stays in the outbox, is tried again minutes later, then goes by DM."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable

from bot.core import observe
from bot.core.costs import format_usd
from bot.core.errors import ImageError, Upstream
from bot.core.i18n import Message, tr
from bot.core.ports import Store, Surface
from bot.core.updates import Final

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 3
# Seconds before the 2nd and 3rd try of a refused delivery: a permission fixed within minutes still lands.
DELIVERY_RETRY_DELAYS = (60.0, 600.0)


class Deliveries:
    def __init__(
        self, store: Store, observer: observe.JobObserver, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._store = store
        self.observer = observer
        self.sleep = sleep  # waits between delivery retries
        self._retries: set[asyncio.Task[None]] = set()

    def cancel_retries(self) -> None:
        """At shutdown: the images wait in the outbox, and the next start tries again."""
        for retry in list(self._retries):
            retry.cancel()

    async def deliver(
        self, turn_id: int, final: Final, prompt: str, notes: list[Message], surface: Surface, *,
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
                await report(surface, Upstream(tr(
                    "Your image is ready but I couldn't post it here (Discord refused it). It is saved and I'll "
                    "try again in a few minutes; check that I can send messages and attach files."
                )))
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
        self, delay: float, turn_id: int, final: Final, prompt: str, notes: list[Message], surface: Surface, *,
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
        await report(surface, Upstream(
            tr("I couldn't post your image here, so I sent it to you in a direct message.") if handed else
            tr("I couldn't post your image here or send it to you directly; the bot's owner still has it.")
        ))


def costing(error: ImageError, charge: int) -> ImageError:
    """The member's message with what OpenAI had already billed, when it billed anything."""
    if not charge:
        return error
    shown = copy.copy(error)
    shown.user_message = tr(
        "{message} OpenAI had already started on it, so it cost {cost}.", message=error.user_message,
        cost=format_usd(charge),
    )
    return shown


async def report(surface: Surface, error: ImageError) -> None:
    try:
        await surface.failed(error)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not tell the member about: %s", error)
