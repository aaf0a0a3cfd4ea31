"""Buttons on results and running jobs. Their state lives in the custom id, so they work after restarts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.core.i18n import Message, tr
from bot.discord_adapter.i18n import say
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


def result_view(turn_id: int, locale: str | None = None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(EditButton(turn_id, locale))
    view.add_item(RerollButton(turn_id, locale))
    return view


def running_view(turn_id: int, locale: str | None = None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(turn_id, locale))
    return view


def grid_view(cells: Sequence[tuple[int, bool]], locale: str | None = None) -> discord.ui.View:
    """A finished grid: "Use n" for each finished cell, "Reroll n" for every cell; cells are (turn id, done)."""
    view = discord.ui.View(timeout=None)
    for number, (turn_id, done) in enumerate(cells, start=1):
        if done:
            view.add_item(UseButton(turn_id, locale, number))
    for number, (turn_id, _) in enumerate(cells, start=1):
        view.add_item(VariationRerollButton(turn_id, locale, number))
    return view


def running_grid_view(turn_id: int, locale: str | None = None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelAllButton(turn_id, locale))
    return view


class _TurnButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tp:(?P<action>[a-z]+):(?P<turn>\d+)"):
    """A button bound to one turn by its custom id; the actions live on the Images cog."""

    LABEL: Message = ""
    EMOJI = ""
    STYLE = discord.ButtonStyle.secondary
    ID_FORMAT = ""
    ROW: int | None = None

    def __init__(self, turn_id: int, locale: str | None = None, number: int | None = None) -> None:
        # The label is in the language of the member who asked; a grid's buttons carry their cell's number in it.
        # The custom id alone drives the button.
        label = self.LABEL if number is None else self.numbered(number)
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=say(label, locale), emoji=self.EMOJI or None, style=self.STYLE,
            custom_id=self.ID_FORMAT.format(turn=turn_id), row=self.ROW,
        )
        super().__init__(button)
        self.turn_id = turn_id

    def numbered(self, number: int) -> Message:
        """The label of cell `number`'s button in a grid."""
        return self.LABEL

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
    LABEL, EMOJI, STYLE, ID_FORMAT = tr("Edit"), "✏️", discord.ButtonStyle.primary, EDIT_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).edit_from_button(interaction, self.turn_id)


class RerollButton(_TurnButton, template=r"tp:reroll:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = tr("Reroll"), "🔁", discord.ButtonStyle.secondary, REROLL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).reroll_from_button(interaction, self.turn_id)


class CancelButton(_TurnButton, template=r"tp:cancel:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = tr("Cancel"), "🛑", discord.ButtonStyle.danger, CANCEL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).cancel_from_button(interaction, self.turn_id)


class UseButton(_TurnButton, template=r"tp:use:(?P<turn>\d+)"):
    LABEL, STYLE, ID_FORMAT, ROW = tr("Use"), discord.ButtonStyle.primary, USE_ID, 0

    def numbered(self, number: int) -> Message:
        return tr("Use {number}", number=number)

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).use_variation(interaction, self.turn_id)


class VariationRerollButton(_TurnButton, template=r"tp:vreroll:(?P<turn>\d+)"):
    LABEL, STYLE, ID_FORMAT, ROW = tr("Reroll"), discord.ButtonStyle.secondary, VARIATION_REROLL_ID, 1

    def numbered(self, number: int) -> Message:
        return tr("Reroll {number}", number=number)

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).reroll_variation(interaction, self.turn_id)


class CancelAllButton(_TurnButton, template=r"tp:cancelall:(?P<turn>\d+)"):
    LABEL, EMOJI, STYLE, ID_FORMAT = tr("Cancel"), "🛑", discord.ButtonStyle.danger, CANCEL_ALL_ID

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.actions(interaction).cancel_variations(interaction, self.turn_id)


class InstructionModal(discord.ui.Modal):
    """Asks what to change; `on_instruction` runs with the text when the member submits."""

    def __init__(self, title: Message, on_instruction: Any, locale: str | None = None) -> None:
        super().__init__(title=say(title, locale), timeout=600)
        # Built per modal, in the language of the member who opens it.
        self.instruction: discord.ui.TextInput[InstructionModal] = discord.ui.TextInput(
            label=say(tr("What should change?"), locale), style=discord.TextStyle.paragraph, max_length=4000,
            placeholder=say(tr("e.g. make it look like a watercolor"), locale),
        )
        self.add_item(self.instruction)
        self._on_instruction = on_instruction

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._on_instruction(interaction, self.instruction.value)


DYNAMIC_ITEMS = (EditButton, RerollButton, CancelButton, UseButton, VariationRerollButton, CancelAllButton)
