"""/draw count: several variations at once in one grid message, then "Use n", "Reroll n" and Cancel.

Each variation is an ordinary job (its own turn, admitted with the others, run by ImageService.run) whose surface
writes into one cell of a shared Grid. The grid message is re-rendered at most once per preview interval (the
newest state wins) and at once when a cell finishes. Variations never move the conversation's head: "Use n" posts
that image full size in the conversation and makes it the head, so /edit continues from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import discord

from bot.core.budgets import BudgetPolicy
from bot.core.costs import format_usd
from bot.core.errors import ImageError
from bot.core.grid import Cell, render_grid
from bot.core.i18n import Message, Text, tr, tr_n
from bot.core.images import fit_for_upload_async
from bot.core.models import ChainKind, Delivery, Job, Turn
from bot.core.pacing import PreviewPacer
from bot.core.text import escape, shorten, thread_name
from bot.core.updates import Final, Partial
from bot.discord_adapter.ack import Ack, admit_in_time, admit_variations_in_time
from bot.discord_adapter.buttons import grid_view, result_view, running_grid_view
from bot.discord_adapter.i18n import for_member, say, server_locale
from bot.discord_adapter.jobs import Chosen, JobStarter, budget_policy
from bot.discord_adapter.reply import Reply, Upload, send_private
from bot.discord_adapter.server_rules import check_words, spoiler_here
from bot.discord_adapter.surface import (
    DRAWING,
    ReplySurface,
    fetch_message_image,
    interrupted_text,
    result_embed,
    result_filename,
    spoiler_name,
)

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

# Member-facing text, from the catalogues (bot/locales); the grid's is rendered in its member's language.
CELL_WAITING = tr("⏳ waiting for a free slot")
CELL_CANCELLED = tr("❌ Cancelled.")
CELL_FAILED_EARLIER = tr("❌ This one failed; Reroll makes it again.")
THREAD_HINT = tr("Press **Use** under the grid to pick a variation: it is posted here full size and **/edit** in "
                 "this thread continues from it.")
GONE = tr("That variation is no longer available (it may have been forgotten).")
NOT_POSTED = tr("I couldn't post that variation in its conversation (check that I can send messages and attach "
                "files there). Nothing changed; please try again.")
FINISHED_ALREADY = tr("Those variations have already finished.")


class Grid:
    """One grid message and the state of its cells; every render shows the newest state."""

    def __init__(
        self, bot: ImageBot, reply: Reply, *, prompt: str, size: str, turns: list[int], chain_id: int | None,
        chain_kind: ChainKind, parent_channel_id: int | None, upload_limit: int,
        base: bytes | None = None, notes: dict[int, Message] | None = None, done: set[int] | None = None,
        locale: str | None = None, spoiler: bool = False,
    ) -> None:
        # The language of the member who asked (after a restart: the server's); every member sees the same grid.
        self.locale = locale
        self.bot = bot
        self.reply = reply
        self.prompt = prompt
        self.size = size
        self.turns = turns  # the current turn of each cell (a reroll replaces one)
        self.cells = [Cell() for _ in turns]
        self.notes: dict[int, Message] = notes or {}  # by cell index
        self.done = done or set()  # cells with a finished image
        self.running: set[int] = set()
        self.base = base  # the grid as last posted, when redrawn after a restart
        self.chain_id = chain_id  # None: open a thread on the grid when the first variation is done
        self.chain_kind = chain_kind
        self.parent_channel_id = parent_channel_id
        self.upload_limit = upload_limit
        self.spoiler = spoiler  # the server's spoiler rule for where the grid is: every cell is hidden alike
        self.estimate = 0
        self._lock = asyncio.Lock()
        self._pacer: PreviewPacer[int] = PreviewPacer(self._paced, bot.settings.preview_interval)
        self._changes = 0
        # Hand-over by DM and fetching earlier images work as for single results.
        self.single = ReplySurface(bot, reply, verb=DRAWING, chain_id=chain_id, chain_kind=chain_kind,
                                   parent_channel_id=parent_channel_id, upload_limit=upload_limit, locale=locale)

    def changed(self) -> None:
        self._changes += 1
        self._pacer.offer(self._changes)

    async def _paced(self, _: int) -> None:
        await self.render()

    async def render(self) -> discord.Message:
        async with self._lock:
            png = await render_grid(self.cells, self.size, self.base)
            fitted = await fit_for_upload_async(png, "png", self.upload_limit)
            view = (grid_view([(turn, i in self.done) for i, turn in enumerate(self.turns)], self.locale)
                    if not self.running else running_grid_view(self.turns[min(self.running)], self.locale))
            upload = Upload(spoiler_name("variations.png", self.spoiler), fitted.data)
            return await self.reply.edit(content=self._text(), uploads=[upload], embed=None, view=view)

    def say(self, message: Message) -> str:
        return say(message, self.locale)

    def _text(self) -> str:
        count = len(self.turns)
        if self.running and self.estimate:
            head = tr_n("🎨 Drawing {count} variation… this usually takes 20–60 seconds. Estimated cost: at most "
                        "{total} for all of them.",
                        "🎨 Drawing {count} variations… this usually takes 20–60 seconds. Estimated cost: at most "
                        "{total} for all of them.", count, total=format_usd(self.estimate))
        elif self.running:
            head = tr_n("🎨 Drawing {count} variation… this usually takes 20–60 seconds.",
                        "🎨 Drawing {count} variations… this usually takes 20–60 seconds.", count)
        else:
            head = tr_n("**{count} variation of:** {prompt}\n"
                        "Press **Use** on one to continue from it; **Reroll** makes that one again.",
                        "**{count} variations of:** {prompt}\n"
                        "Press **Use** on one to continue from it; **Reroll** makes that one again.",
                        count, prompt=shorten(escape(self.prompt), 1000))
        notes = [f"**{i + 1}:** {self.say(self.notes[i])}" for i in sorted(self.notes)]
        return shorten("\n".join([self.say(head), *notes]), 2000)

    async def finish(self, index: int, cell: Cell, note: Message) -> discord.Message:
        self.cells[index] = cell
        self.notes[index] = note
        self.running.discard(index)
        if cell.image is not None:
            self.done.add(index)
        else:
            self.done.discard(index)
        if not self.running:
            await self._pacer.close()  # no preview may land after the finished grid
        return await self.render()

    async def home(self, message: discord.Message) -> tuple[int, ChainKind, int | None]:
        """The conversation the variations belong to, opening a thread on the grid the first time."""
        async with self._lock:
            if self.chain_id is None:
                try:
                    thread = await message.create_thread(name=thread_name(self.prompt), auto_archive_duration=1440)
                except (discord.HTTPException, AttributeError, TypeError) as exc:
                    log.warning("could not open a thread on grid %s (%s); the channel is the chain", message.id, exc)
                    self.chain_id, self.chain_kind, self.parent_channel_id = message.channel.id, "channel", None
                else:
                    self.chain_id, self.chain_kind, self.parent_channel_id = thread.id, "thread", message.channel.id
                    try:
                        await thread.send(self.say(THREAD_HINT))
                    except discord.HTTPException:
                        log.info("could not post the hint in thread %s", thread.id)
            return self.chain_id, self.chain_kind, self.parent_channel_id


class CellSurface:
    """The Surface of one variation: everything it says lands in its cell of the grid (core.ports.Surface)."""

    def __init__(self, grid: Grid, index: int) -> None:
        self.grid = grid
        self.index = index

    async def waiting(self) -> None:
        pass  # variations don't wait for each other (they never move the head)

    async def queued(self, position: int) -> None:
        self.grid.notes[self.index] = CELL_WAITING
        self.grid.changed()

    async def retrying(self, delay: float, attempt: int, attempts: int, error: ImageError) -> None:
        self.grid.notes[self.index] = tr("⏳ {message} trying again…", message=error.user_message)
        self.grid.changed()

    async def preview(self, partial: Partial, expected: int) -> None:
        self.grid.notes.pop(self.index, None)
        self.grid.cells[self.index] = Cell(partial.image)
        self.grid.changed()

    async def deliver(self, final: Final, prompt: str, notes: list[Message]) -> Delivery:
        message = await self.grid.finish(self.index, Cell(final.image), _joined(notes))
        chain_id, kind, parent = await self.grid.home(message)
        return Delivery(chain_id, kind, parent, message.channel.id, message.id, moves_head=False)

    async def failed(self, error: ImageError) -> None:
        await self.grid.finish(self.index, Cell(failed=True), _failed(error.user_message))

    async def interrupted(self, cost: int = 0) -> None:
        await self.grid.finish(self.index, Cell(failed=True), interrupted_text(cost))

    async def hand_over(self, final: Final, prompt: str, user_id: int) -> bool:
        return await self.grid.single.hand_over(final, prompt, user_id)

    async def fetch_image(self, channel_id: int, message_id: int) -> bytes | None:
        return await self.grid.single.fetch_image(channel_id, message_id)


class Variations:
    """Starts variations and answers the grid's buttons; grids being drawn are shared by their group id."""

    def __init__(self, bot: ImageBot, starter: JobStarter) -> None:
        self.bot = bot
        self.starter = starter
        self._live: dict[int, Grid] = {}

    async def start(self, interaction: discord.Interaction, prompt: str, chosen: Chosen, count: int) -> None:
        if not self.bot.service.claim(interaction.id):
            return
        ack = Ack(interaction, self.bot.metrics)
        plan = self.starter.plan(interaction, "draw", prompt, chosen, ())
        admitted = await admit_variations_in_time(ack, self.bot.service, plan, count)
        if not admitted:
            return
        job = admitted[0][1]
        reply = await self.starter.reply_here(ack)
        chain = await self.bot.service.chain(job.chain_id) if job.chain_id is not None else None
        grid = Grid(self.bot, reply, prompt=job.prompt, size=job.options.size, turns=[a.turn_id for a, _ in admitted],
                    chain_id=job.chain_id, chain_kind=chain.kind if chain else "channel",
                    parent_channel_id=getattr(reply.channel, "parent_id", None),
                    upload_limit=interaction.filesize_limit, locale=for_member(interaction), spoiler=job.spoiler)
        grid.estimate = sum(admission.estimate for admission, _ in admitted)
        assert job.variation_group is not None
        await self._run(grid, job.variation_group, [(a.turn_id, j) for a, j in admitted])

    async def _run(self, grid: Grid, group: int, jobs: Sequence[tuple[int, Job]]) -> None:
        indexes = [(job.variation_index or 1) - 1 for _, job in jobs]
        grid.running.update(indexes)
        self._live[group] = grid
        try:
            message = await grid.render()
            channel_id = message.channel.id
            for turn_id, _ in jobs:
                await self.bot.store.set_reply_message(turn_id, channel_id, message.id)
            await asyncio.gather(*(
                self.bot.service.run(turn_id, replace(job, reply_channel_id=channel_id, reply_message_id=message.id),
                                     CellSurface(grid, index))
                for (turn_id, job), index in zip(jobs, indexes, strict=True)
            ))
        finally:
            if not grid.running:
                self._live.pop(group, None)
            self.starter.memory.job_ended()

    async def use(self, interaction: discord.Interaction, turn_id: int) -> None:
        """"Use n": post that variation full size in its conversation and make it the head."""
        turn = await self._finished(interaction, turn_id)
        if turn is None or turn.chain_id is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        kept = await self.bot.store.kept_image(turn.id)
        grid_message = interaction.message.id if interaction.message else None
        if kept is not None:
            try:
                channel = self.bot.get_channel(turn.chain_id) or await self.bot.fetch_channel(turn.chain_id)
                server = await self.starter.server_settings(interaction)
                message = await self._post(channel, turn, *kept, interaction.filesize_limit, for_member(interaction),
                                           spoiler=spoiler_here(server, channel))
            except (discord.HTTPException, TypeError) as exc:
                log.warning("could not post variation %s in %s: %s", turn.id, turn.chain_id, exc)
                await send_private(interaction, NOT_POSTED)
                return
            channel_id, message_id = message.channel.id, message.id
        elif turn.reply_message_id is not None and turn.reply_message_id != grid_message:
            channel_id, message_id = turn.reply_channel_id or turn.chain_id, turn.reply_message_id  # posted before
        else:
            await send_private(interaction, GONE)
            return
        await self.bot.store.choose_variation(turn.id, turn.chain_id, channel_id, message_id)
        await send_private(interaction, tr("Variation {number} is now the image **/edit** continues from in {channel}.",
                                           number=turn.variation_index, channel=f"<#{turn.chain_id}>"))

    async def _post(
        self, channel: object, turn: Turn, image: bytes, fmt: str, limit: int, locale: str | None, *, spoiler: bool
    ) -> discord.Message:
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"cannot post in {type(channel).__name__}")
        fitted = await fit_for_upload_async(image, fmt, limit)
        name = result_filename(fitted.format, spoiler)
        embed = result_embed(turn.prompt, turn.revised_prompt, name, spoiler=spoiler, locale=locale)
        if fitted.note:
            embed.set_footer(text=say(fitted.note, locale))
        return await channel.send(embed=embed, file=Upload(name, fitted.data).file(),
                                  view=result_view(turn.id, locale))

    async def reroll(self, interaction: discord.Interaction, turn_id: int) -> None:
        """"Reroll n": that variation again, admitted like any job, drawn into its cell of the same grid."""
        if not self.bot.service.claim(interaction.id):
            return
        turn = await self.bot.store.get_turn(turn_id)
        if (turn is None or turn.variation_group is None or interaction.message is None
                or turn.status in ("queued", "running", "delivering")):
            await send_private(interaction, GONE)
            return
        group, number = turn.variation_group, turn.variation_index or 1
        siblings = await self.bot.store.variation_turns(group)
        chain_id = turn.chain_id or next((t.chain_id for t in siblings if t.chain_id is not None), None)
        ack = Ack(interaction, self.bot.metrics, private=True)
        admitted = await admit_in_time(ack, self.bot.service, self._plan_reroll(interaction, turn, chain_id))
        if admitted is None:
            return
        admission, job = admitted
        await ack.confirm(tr("Making variation {number} again; it will appear in its cell.", number=number))
        grid = self._live.get(group) or await reopen_grid(
            self.bot, interaction.message.channel, interaction.message.id, turn, interaction.filesize_limit,
            for_member(interaction),
        )
        grid.turns[number - 1] = admission.turn_id
        grid.notes.pop(number - 1, None)
        await self._run(grid, group, [(admission.turn_id, job)])

    async def _plan_reroll(
        self, interaction: discord.Interaction, turn: Turn, chain_id: int | None
    ) -> tuple[Job, BudgetPolicy]:
        server = await self.starter.server_settings(interaction)
        await self.starter.check_branch(interaction, replace(turn, chain_id=chain_id), server)
        check_words(server, turn.prompt, "prompt")  # the list may have grown since the grid was drawn
        job = Job(
            interaction_id=interaction.id, user_id=interaction.user.id, guild_id=interaction.guild_id,
            channel_id=turn.channel_id, kind="draw", prompt=turn.prompt, options=turn.options, chain_id=chain_id,
            moderation=server.moderation, partial_images=server.partial_images,
            variation_group=turn.variation_group, variation_index=turn.variation_index,
            spoiler=spoiler_here(server, interaction.channel), api_key=await self.starter.server_key(interaction),
        )
        return job, budget_policy(server, interaction)

    async def cancel(self, interaction: discord.Interaction, turn_id: int) -> None:
        """Cancel: every variation of the grid that is still queued or running."""
        turn = await self.bot.store.get_turn(turn_id)
        if turn is None or turn.variation_group is None:
            await send_private(interaction, FINISHED_ALREADY)
            return
        try:
            await self.starter.check_cancel(interaction, turn)
        except ImageError as error:
            await send_private(interaction, error.user_message)
            return
        siblings = await self.bot.store.variation_turns(turn.variation_group)
        cancelled = [t.id for t in siblings if t.status in ("queued", "running")
                     and self.bot.service.cancel(t.id, interaction.user.id)]
        if cancelled:
            await interaction.response.defer()  # each cell says it was cancelled
        else:
            await send_private(interaction, FINISHED_ALREADY)

    async def _finished(self, interaction: discord.Interaction, turn_id: int) -> Turn | None:
        turn = await self.bot.store.get_turn(turn_id)
        if turn is None or turn.status != "done" or turn.variation_group is None:
            await send_private(interaction, GONE)
            return None
        try:
            await self.starter.check_branch(interaction, turn, await self.starter.server_settings(interaction))
        except ImageError as error:
            await send_private(interaction, error.user_message)
            return None
        return turn


class RecoveredGrids:
    """Start-up recovery's grids: each group's grid reopened once and shared by its turns' cells."""

    def __init__(self, bot: ImageBot, upload_limit: int) -> None:
        self.bot = bot
        self.upload_limit = upload_limit
        self._grids: dict[int, Grid] = {}

    async def cell(self, turn: Turn) -> CellSurface | None:
        """The cell of a variation's grid; None for other turns (or when the grid can't be reached)."""
        group = turn.variation_group
        if group is None or turn.reply_channel_id is None or turn.reply_message_id is None:
            return None
        if group not in self._grids:
            channel = self.bot.get_partial_messageable(turn.reply_channel_id, guild_id=turn.guild_id)
            try:
                # The member's own locale went with the process; the server's language is the nearest guess.
                self._grids[group] = await reopen_grid(self.bot, channel, turn.reply_message_id, turn,
                                                       self.upload_limit, server_locale(self.bot, turn.guild_id))
            except discord.HTTPException as exc:
                log.warning("could not reopen the grid of turn %s: %s", turn.id, exc)
                return None
        return CellSurface(self._grids[group], (turn.variation_index or 1) - 1)


async def reopen_grid(
    bot: ImageBot, channel: discord.abc.Messageable, message_id: int, turn: Turn, upload_limit: int,
    locale: str | None = None,
) -> Grid:
    """A grid drawn earlier (perhaps before a restart), redrawn from its posted picture and its group's turns."""
    assert turn.variation_group is not None
    siblings = await bot.store.variation_turns(turn.variation_group)
    latest = {(t.variation_index or 1) - 1: t for t in siblings}  # oldest first: a reroll replaces its cell
    count = max(latest) + 1
    chain_id = next((t.chain_id for t in siblings if t.chain_id is not None), None)
    chain = await bot.service.chain(chain_id) if chain_id is not None else None
    grid = Grid(
        bot, Reply(channel, message_id=message_id), prompt=turn.prompt, size=turn.options.size,
        turns=[latest[i].id if i in latest else turn.id for i in range(count)], chain_id=chain_id,
        chain_kind=chain.kind if chain else "channel", parent_channel_id=chain.parent_channel_id if chain else None,
        upload_limit=upload_limit, base=await fetch_message_image(bot, getattr(channel, "id", 0), message_id),
        notes={i: note for i, t in latest.items() if (note := _note(t))},
        done={i for i, t in latest.items() if t.status == "done"}, locale=locale,
    )
    for i, t in latest.items():
        if t.status in ("failed", "interrupted"):
            grid.cells[i] = Cell(failed=True)
    return grid


def _note(turn: Turn) -> Message | None:
    if turn.status == "done":
        return tr("Cost {cost}.", cost=format_usd(turn.cost_micros))
    if turn.status == "interrupted":
        return interrupted_text(turn.cost_micros)
    if turn.status == "failed":  # the stored error may carry upstream detail: the member gets a plain note
        return CELL_CANCELLED if turn.error_code == "cancelled" else CELL_FAILED_EARLIER
    return None


def _joined(notes: Sequence[Message]) -> Text:
    """A finished cell's notes on one line, rendered together in the grid's language."""
    names = [f"note{i}" for i in range(len(notes))]
    return Text(" ".join("{" + name + "}" for name in names), dict(zip(names, notes, strict=True)))


def _failed(message: Message) -> Text:
    """A failed cell: the reason, marked as the single result's failure is (no words of its own to translate)."""
    return Text("❌ {message}", {"message": message})
