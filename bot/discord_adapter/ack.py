"""Admitting a job and giving Discord its first answer in time, even when the database is slow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.core import observe
from bot.core.budgets import BudgetPolicy
from bot.core.errors import ImageError, Unavailable
from bot.core.i18n import Message, tr
from bot.core.models import Job
from bot.core.service import Admission, ImageService
from bot.discord_adapter.i18n import say
from bot.discord_adapter.reply import replace_with_private, send_private
from bot.ops.metrics import Metrics

log = logging.getLogger(__name__)

# Discord forgets an interaction that gets no answer within 3 seconds. Admission reads and writes the database,
# which under load can queue behind other jobs' writes for longer than that, so a command whose admission has not
# answered after this long is deferred ("thinking…") and answered when admission does. Half a second leaves most
# of Discord's window for the deferral's own round trip, which on an overloaded event loop can itself take a
# second, and still lets the usual refusal (admission takes milliseconds) be a plain private message.
ACK_DEADLINE = 0.5
ACK_REFUSED = tr("Discord did not accept the acknowledgement of this command in time.")
Admitted = tuple[Admission, Job]


class Ack:
    """Answers one interaction: a refusal only its member sees, or a deferral the job's reply then fills.

    `private` deferrals suit jobs whose result is posted somewhere else (a button pressed outside its thread).
    """

    def __init__(self, interaction: discord.Interaction, metrics: Metrics, *, private: bool = False) -> None:
        self.interaction = interaction
        self._metrics = metrics
        self._private = private
        self.deferred = False

    async def defer_unless_done(self, work: asyncio.Future[Any], deadline: float = ACK_DEADLINE) -> None:
        """Wait for `work` up to `deadline` seconds; if it is still running, acknowledge now."""
        await asyncio.wait([work], timeout=deadline)
        if not work.done():
            log.info("admission is slow; acknowledging interaction %s before it answers", self.interaction.id)
            await self.defer()

    async def defer(self) -> None:
        if self.interaction.response.is_done():
            return
        await self.interaction.response.defer(thinking=True, ephemeral=self._private)
        self.deferred = True
        self._metrics.acknowledged(self.interaction.id)

    async def confirm(self, text: Message) -> None:
        """A private note that the job was accepted (it is posted elsewhere); this acknowledges the command."""
        first = not self.interaction.response.is_done()
        await send_private(self.interaction, text)
        if first:
            self._metrics.acknowledged(self.interaction.id)

    async def refuse(self, text: Message) -> None:
        """Tell only the member why nothing runs, even after a public deferral (which is taken away)."""
        if not self.deferred or self._private:
            await send_private(self.interaction, text)
        elif not await replace_with_private(self.interaction, text):
            log.info("could not refuse interaction %s privately; saying it in the reply", self.interaction.id)
            await self.interaction.edit_original_response(content=say(text, self.interaction.locale))


async def admit_in_time(
    ack: Ack, service: ImageService, plan: Awaitable[tuple[Job, BudgetPolicy]],
    refused: Callable[[Message], Awaitable[None]] | None = None,
) -> Admitted | None:
    """Plan and admit a job, acknowledging in time; on a refusal tell the member privately and return None.

    Discord's 3 seconds must not depend on the database, so admission runs in its own task and the command is
    deferred if that task takes longer than ACK_DEADLINE.
    """
    admitting = asyncio.ensure_future(_plan_and_admit(service, plan))
    try:
        await ack.defer_unless_done(admitting)
    except discord.HTTPException:
        await _drop(service, admitting)
        raise
    try:
        admitted = await admitting
    except ImageError as error:
        await ack.refuse(error.user_message)
        if refused is not None:
            await refused(error.user_message)  # after the member was told: the server's log channel
        return None
    if admitted is not None:
        # The service tagged the admission task's context; the rest of this command logs under the job too.
        observe.current_job.set(observe.JobTag(admitted[0].turn_id, admitted[1].interaction_id))
    return admitted


async def admit_variations_in_time(
    ack: Ack, service: ImageService, plan: Awaitable[tuple[Job, BudgetPolicy]], count: int
) -> list[Admitted] | None:
    """admit_in_time for /draw count: the variations are admitted together or refused together."""

    async def plan_and_admit() -> list[Admitted] | None:
        job, budgets = await plan
        return await service.admit_variations(job, count, budgets=budgets)

    admitting = asyncio.ensure_future(plan_and_admit())
    try:
        await ack.defer_unless_done(admitting)
    except discord.HTTPException:
        try:
            for admission, _ in await admitting or []:
                await service.abandon(admission.turn_id, Unavailable(ACK_REFUSED))
        except ImageError:
            pass
        raise
    try:
        return await admitting
    except ImageError as error:
        await ack.refuse(error.user_message)
        return None


async def _plan_and_admit(service: ImageService, plan: Awaitable[tuple[Job, BudgetPolicy]]) -> Admitted | None:
    job, budgets = await plan
    admission = await service.admit(job, budgets=budgets)
    return None if admission is None else (admission, job)


async def _drop(service: ImageService, admitting: asyncio.Future[Admitted | None]) -> None:
    """Discord refused the acknowledgement, so nobody would see this job: it must not hold a slot or budget."""
    try:
        admitted = await admitting
    except ImageError:
        return
    if admitted is not None:
        await service.abandon(admitted[0].turn_id, Unavailable(ACK_REFUSED))
