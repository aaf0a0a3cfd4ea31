"""Start-up recovery: report jobs a crash interrupted, and post finished images that were never posted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.core.i18n import tr
from bot.core.models import ChainKind, PendingDelivery, Turn
from bot.core.ports import Store, Surface
from bot.core.shards import ShardScope
from bot.core.updates import Final
from bot.discord_adapter.i18n import say, server_locale
from bot.discord_adapter.reply import Reply
from bot.discord_adapter.server_rules import spoiler_here
from bot.discord_adapter.surface import DRAWING, EDITING, ReplySurface, interrupted_text
from bot.discord_adapter.variations import RecoveredGrids

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
DELIVERED_LATE = tr("Delivered after the bot restarted.")


@dataclass(frozen=True)
class Leftovers:
    """What the previous run of this process left behind, as found before this run accepted any command."""

    interrupted: list[Turn]
    pending: list[PendingDelivery]


async def collect(store: Store, scope: ShardScope) -> Leftovers:
    """Called before the gateway connects: a job this run starts can't be mistaken for a crashed one. Only jobs
    of servers on this process's shards: with several processes on one database, the others' may be running."""
    return Leftovers(await store.interrupt_unfinished(scope), await store.pending_deliveries(scope))


async def recover(bot: ImageBot, leftovers: Leftovers) -> tuple[int, int]:
    """Once connected: report the interrupted jobs and post the finished images that were never posted.
    Returns (interrupted jobs reported, finished images delivered)."""
    interrupted = leftovers.interrupted
    grids = RecoveredGrids(bot, DEFAULT_UPLOAD_LIMIT)  # variations are reported in their cells of the grid
    for turn in interrupted:
        cell = await grids.cell(turn)
        if cell is None:
            await _report_interrupted(bot, turn)
            continue
        try:
            await cell.interrupted(turn.cost_micros)
        except discord.HTTPException as exc:
            log.warning("could not report interrupted turn %s: %s", turn.id, exc)
    delivered = 0
    for pending in leftovers.pending:
        turn = pending.turn
        surface: Surface = await grids.cell(turn) or await _surface_for(bot, turn)
        final = Final(pending.image, pending.format, turn.image_call_id or "", turn.revised_prompt)
        if await bot.service.deliver(
            turn.id, final, turn.prompt, [DELIVERED_LATE], surface, owner_id=turn.user_id, guild_id=turn.guild_id
        ):
            delivered += 1
    if interrupted or delivered:
        log.info("recovery: %d interrupted jobs reported, %d finished images delivered", len(interrupted), delivered)
    return len(interrupted), delivered


async def _report_interrupted(bot: ImageBot, turn: Turn) -> None:
    if turn.reply_channel_id is None or turn.reply_message_id is None:
        log.warning("turn %s was interrupted before its reply existed; nothing to update", turn.id)
        return
    reply = Reply(bot.get_partial_messageable(turn.reply_channel_id), message_id=turn.reply_message_id)
    try:
        text = say(interrupted_text(turn.cost_micros), server_locale(bot, turn.guild_id))
        await reply.edit(content=text, embed=None, uploads=[], view=None)
    except discord.HTTPException as exc:
        log.warning("could not report interrupted turn %s: %s", turn.id, exc)


async def _surface_for(bot: ImageBot, turn: Turn) -> ReplySurface:
    channel_id = turn.reply_channel_id or turn.channel_id
    channel: discord.abc.Messageable
    try:
        found = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
    except discord.HTTPException as exc:
        # Still try (and count the attempt): skipping would leave the turn "delivering" at every start forever.
        log.error("turn %s: cannot reach channel %s to deliver its image: %s", turn.id, channel_id, exc)
        found = None
    if isinstance(found, discord.abc.Messageable):
        channel = found
    else:
        channel = bot.get_partial_messageable(channel_id, guild_id=turn.guild_id)
    chain = await bot.store.get_chain(turn.chain_id) if turn.chain_id is not None else None
    kind: ChainKind = chain.kind if chain else "channel"
    guild = getattr(channel, "guild", None)
    server = await bot.store.get_guild_settings(turn.guild_id) if turn.guild_id is not None else None
    return ReplySurface(
        bot,
        Reply(channel, message_id=turn.reply_message_id),
        verb=DRAWING if turn.kind == "draw" else EDITING,
        chain_id=turn.chain_id,
        chain_kind=kind,
        parent_channel_id=getattr(channel, "parent_id", None),
        upload_limit=getattr(guild, "filesize_limit", DEFAULT_UPLOAD_LIMIT),
        turn_id=turn.id,
        # The member's own locale went with the process; the server's language is the nearest guess.
        locale=server_locale(bot, turn.guild_id),
        spoiler=server is not None and spoiler_here(server, channel),  # as it would have been before the restart
    )
