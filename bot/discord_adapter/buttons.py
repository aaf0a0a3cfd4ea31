"""Buttons on results and running jobs. Their state lives in the custom id, so they work after restarts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.discord_adapter.tree import allowed_here

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

EDIT_ID = "tp:edit:{turn}"
REROLL_ID = "tp:reroll:{turn}"
CANCEL_ID = "tp:cancel:{turn}"
USE_ID = "tp:use:{turn}"
VARIATION_REROLL_ID = "tp:vreroll:{turn}"
CANCEL_ALL_ID = "tp:cancelall:{turn}"


def result_view(turn_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(EditButton(turn_id))
    view.add_item(RerollButton(turn_id))
    return view


def running_view(turn_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(turn_id))
    return view


def grid_view(cells: Sequence[tuple[int, bool]]) -> discord.ui.View:
    """A finished grid: "Use n" for each finished cell, "Reroll n" for every cell; cells are (turn id, done)."""
    view = discord.ui.View(timeout=None)
    for number, (turn_id, done) in enumerate(cells, start=1):
        if done:
            view.add_item(UseButton(turn_id, number))
    for number, (turn_id, _) in enumerate(cells, start=1):
        view.add_item(VariationRerollButton(turn_id, number))
    return view


def running_grid_view(turn_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelAllButton(turn_id))
    return view


class _TurnButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tp:(?P<action>[a-z]+):(?P<turn>\d+)"):
    """A button bound to one turn by its custom id; the actions live on the Images cog."""

    LABEL = ""
    EMOJI = ""
    STYLE = discord.ButtonStyle.secondary
    ID_FORMAT = ""
    ROW: int | None = None

    def __init__(self, turn_id: int, number: int | None = None) -> None:
        # A grid's buttons carry their cell's number in the label; the custom id needs only the turn.
        label = self.LABEL if number is None else f"{self.LABEL} {number}"
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label, emoji=self.EMOJI or None, style=self.STYLE, custom_id=self.ID_FORMAT.format(turn=turn_id),
            row=self.ROW,
        )
        super().__init__(button)
        self.turn_id = turn_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["turn"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # Buttons on results made before the owner listed ALLOWED_GUILDS (or turned DMs off) stop working too.
        return await allowed_here(interaction)

    @staticmethod
    def actions(interaction: discord.Interaction) -> Any:
        bot: ImageBot = interaction.client  # type: ignore[assignment]
        return bot.get_cog("Images")


class EditButton(_TurnButton, template=r"tp:edit:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = "Edit", "✏️", discord.ButtonStyle.primary, EDIT_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).edit_from_button(interaction, self.turn_id)


class RerollButton(_TurnButton, template=r"tp:reroll:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = "Reroll", "🔁", discord.ButtonStyle.secondary, REROLL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).reroll_from_button(interaction, self.turn_id)


class CancelButton(_TurnButton, template=r"tp:cancel:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = "Cancel", "🛑", discord.ButtonStyle.danger, CANCEL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).cancel_from_button(interaction, self.turn_id)


class UseButton(_TurnButton, template=r"tp:use:(?P<turn>\d+)"):
    LABEL, STYLE, ID_FORMAT, ROW = "Use", discord.ButtonStyle.primary, USE_ID, 0

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).use_variation(interaction, self.turn_id)


class VariationRerollButton(_TurnButton, template=r"tp:vreroll:(?P<turn>\d+)"):
    LABEL, STYLE, ID_FORMAT, ROW = "Reroll", discord.ButtonStyle.secondary, VARIATION_REROLL_ID, 1

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).reroll_variation(interaction, self.turn_id)


class CancelAllButton(_TurnButton, template=r"tp:cancelall:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = "Cancel", "🛑", discord.ButtonStyle.danger, CANCEL_ALL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).cancel_variations(interaction, self.turn_id)


class InstructionModal(discord.ui.Modal):
    """Asks what to change; `on_instruction` runs with the text when the member submits."""

    instruction: discord.ui.TextInput[InstructionModal] = discord.ui.TextInput(
        label="What should change?", style=discord.TextStyle.paragraph, max_length=4000,
        placeholder="e.g. make it look like a watercolor",
    )

    def __init__(self, title: str, on_instruction: Any) -> None:
        super().__init__(title=title, timeout=600)
        self._on_instruction = on_instruction

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_instruction(interaction, self.instruction.value)


DYNAMIC_ITEMS = (EditButton, RerollButton, CancelButton, UseButton, VariationRerollButton, CancelAllButton)
