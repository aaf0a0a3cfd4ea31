"""/draw and /edit: thin Discord commands over the job engine."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.access import ImageAuthor
from bot.core.errors import ImageError
from bot.core.i18n import tr
from bot.core.models import Turn
from bot.core.options import FIDELITIES
from bot.core.sizes import ASPECTS
from bot.discord_adapter.buttons import DYNAMIC_ITEMS, InstructionModal
from bot.discord_adapter.i18n import for_member
from bot.discord_adapter.jobs import MAX_INPUT_IMAGES, Chosen, JobStarter, opens_thread
from bot.discord_adapter.references import result_reference
from bot.discord_adapter.reply import send_private
from bot.discord_adapter.surface import IMAGE_SUFFIXES
from bot.discord_adapter.variations import Variations

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)



def _choices(*values: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=value, value=value) for value in values]


RESOLUTION_CHOICES = (("standard (about 1 megapixel)", "standard"), ("large (about 2.4 megapixels)", "large"),
                      ("4K (up to 3840x2160, experimental)", "4k"))


# Explicit choices, not Literal annotations: typing caches Literals by their set of values, so a Literal with the
# same values from another module (the OpenAI SDK has them) would impose its order on the command's choices.
CHOICES = {
    "size": _choices("auto", "1024x1024", "1536x1024", "1024x1536"),
    "quality": _choices("auto", "low", "medium", "high"),
    "background": _choices("auto", "opaque", "transparent"),
    "format": _choices("png", "jpeg", "webp"),
    "aspect": _choices(*ASPECTS),
    "resolution": [app_commands.Choice(name=name, value=value) for name, value in RESOLUTION_CHOICES],
}
EDIT_CHOICES = {**CHOICES, "fidelity": _choices(*FIDELITIES)}
Choice = app_commands.Choice[str]
ALREADY_FINISHED = tr("That request has already finished.")


def _chosen(size: Choice | None, quality: Choice | None, background: Choice | None, format: Choice | None,
            compression: int | None, aspect: Choice | None = None, resolution: Choice | None = None,
            fidelity: Choice | None = None) -> Chosen:
    def value(choice: Choice | None) -> str | None:
        return None if choice is None else choice.value

    return Chosen(value(size), value(quality), value(background), value(format), compression, value(aspect),
                  value(resolution), value(fidelity))

NO_CHOICES = Chosen(None, None, None, None, None)

OPTION_HELP = {
    "size": "Width x height (auto lets the model choose); or use aspect and resolution",
    "aspect": "Width:height of the picture (any ratio needs a model that supports it)",
    "resolution": "How many pixels: standard, large or 4K (4K is experimental and costs more)",
    "quality": "Higher quality takes longer and costs more",
    "background": "transparent needs png or webp",
    "format": "File format of the result",
    "compression": "0–100, jpeg and webp only (lower is smaller)",
}
RESULTS_HELP = "Links to my earlier results to use as images (Copy Message Link; up to 4, space-separated)"
COUNT_HELP = "How many variations to draw at once, shown in a grid to pick from (1–4)"


@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
class Images(commands.Cog):
    """Draw images and refine them turn after turn inside a thread."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.starter = JobStarter(bot)
        self.variations = Variations(bot, self.starter)
        # Context menus can't be declared with a decorator inside a cog; this is discord.py's documented way.
        self.edit_image_menu = app_commands.ContextMenu(name="Edit image", callback=self.edit_image)
        self.edit_image_menu.allowed_installs = app_commands.AppInstallationType(guild=True, user=False)
        self.edit_image_menu.allowed_contexts = app_commands.AppCommandContext(guild=True, dm_channel=True)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.edit_image_menu)
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.edit_image_menu.name, type=self.edit_image_menu.type)
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="draw", description="Draw a new image from a description")
    @app_commands.describe(prompt="What to draw", count=COUNT_HELP, **OPTION_HELP)
    @app_commands.choices(**CHOICES)
    async def draw(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        size: Choice | None = None,
        quality: Choice | None = None,
        background: Choice | None = None,
        format: Choice | None = None,
        compression: app_commands.Range[int, 0, 100] | None = None,
        aspect: Choice | None = None,
        resolution: Choice | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
    ) -> None:
        chosen = _chosen(size, quality, background, format, compression, aspect, resolution)
        if count > 1:
            await self.variations.start(interaction, prompt, chosen, count)
        else:
            await self.starter.start(interaction, "draw", prompt, chosen)

    @app_commands.command(name="edit", description="Change the latest image in this thread, or an image you attach")
    @app_commands.describe(
        instruction="What to change", image="An image to edit instead", image2="A second image to combine",
        image3="A third image", image4="A fourth image",
        mask="A PNG the size of image: its transparent pixels mark where to repaint",
        fidelity="high keeps faces and logos closer to the input (not every model offers it)",
        results=RESULTS_HELP, **OPTION_HELP,
    )
    @app_commands.choices(**EDIT_CHOICES)
    async def edit(
        self,
        interaction: discord.Interaction,
        instruction: app_commands.Range[str, 1, 4000],
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        size: Choice | None = None,
        quality: Choice | None = None,
        background: Choice | None = None,
        format: Choice | None = None,
        compression: app_commands.Range[int, 0, 100] | None = None,
        aspect: Choice | None = None,
        resolution: Choice | None = None,
        fidelity: Choice | None = None,
        mask: discord.Attachment | None = None,
        results: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        chosen = _chosen(size, quality, background, format, compression, aspect, resolution, fidelity)
        images = [a for a in (image, image2, image3, image4) if a is not None]
        await self.starter.start(interaction, "edit", instruction, chosen, images, mask, result_links=results)

    async def edit_image(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Edit image" message command: ask what to change, then edit that message's image."""
        images = [a for a in message.attachments if a.filename.lower().endswith(IMAGE_SUFFIXES)][:MAX_INPUT_IMAGES]
        if not images:
            await send_private(interaction, tr("That message has no image I can edit (PNG, JPEG, WebP or GIF)."))
            return
        author: ImageAuthor = "other"
        if message.author.id == interaction.user.id:
            author = "self"
        elif self.bot.user is not None and message.author.id == self.bot.user.id:
            author = "bot"
        try:
            # Checked before the member types anything; the submitted modal goes through /edit's own checks.
            server = await self.starter.server_settings(interaction)
            await self.starter.check_start(
                interaction, server, opens_thread=opens_thread(interaction, "edit", True), image_author=author,
            )
        except ImageError as error:
            await send_private(interaction, error.user_message)
            await self._log_refusal(interaction, error)
            return

        reference = await result_reference(self.bot, message)

        async def submitted(modal_interaction: discord.Interaction, instruction: str) -> None:
            if reference is not None:  # one of our results: OpenAI has it, so send its id instead of its bytes
                await self.starter.start(modal_interaction, "edit", instruction, NO_CHOICES, references=(reference,))
            else:
                await self.starter.start(modal_interaction, "edit", instruction, NO_CHOICES, images)

        await interaction.response.send_modal(InstructionModal(tr("Edit image"), submitted, for_member(interaction)))

    async def edit_from_button(self, interaction: discord.Interaction, turn_id: int) -> None:
        turn = await self._result(interaction, turn_id)
        if turn is None:
            return

        async def submitted(modal_interaction: discord.Interaction, instruction: str) -> None:
            await self.starter.start_branch(modal_interaction, turn, "edit", instruction, turn.id)

        await interaction.response.send_modal(
            InstructionModal(tr("Edit this image"), submitted, for_member(interaction))
        )

    async def reroll_from_button(self, interaction: discord.Interaction, turn_id: int) -> None:
        turn = await self._result(interaction, turn_id)
        if turn is None:
            return
        if turn.kind == "edit" and turn.parent_turn_id is None:
            await send_private(interaction, tr("This edit started from an uploaded image, so it can't be rerolled. "
                                               "Use Edit, or run /edit with the image again."))
            return
        parent = turn.parent_turn_id if turn.kind == "edit" else None
        await self.starter.start_branch(interaction, turn, turn.kind, turn.prompt, parent)

    async def cancel_from_button(self, interaction: discord.Interaction, turn_id: int) -> None:
        turn = await self.bot.store.get_turn(turn_id)
        if turn is None:
            await send_private(interaction, ALREADY_FINISHED)
            return
        try:
            await self.starter.check_cancel(interaction, turn)  # first: a stranger learns nothing about the job
        except ImageError as error:
            await send_private(interaction, error.user_message)
            return
        if turn.status not in ("queued", "running"):
            await send_private(interaction, ALREADY_FINISHED)
            return
        if self.bot.service.cancel(turn_id, interaction.user.id):
            await interaction.response.defer()  # the job's own message says it was cancelled
        else:
            await send_private(interaction, ALREADY_FINISHED)

    async def use_variation(self, interaction: discord.Interaction, turn_id: int) -> None:
        await self.variations.use(interaction, turn_id)

    async def reroll_variation(self, interaction: discord.Interaction, turn_id: int) -> None:
        await self.variations.reroll(interaction, turn_id)

    async def cancel_variations(self, interaction: discord.Interaction, turn_id: int) -> None:
        await self.variations.cancel(interaction, turn_id)

    async def _result(self, interaction: discord.Interaction, turn_id: int) -> Turn | None:
        """The finished result a button belongs to, or None after telling the member why not."""
        turn = await self.bot.store.get_turn(turn_id)
        if turn is None or turn.status != "done" or turn.chain_id is None or turn.response_id is None:
            await send_private(interaction, tr("That image is no longer available (it may have been forgotten)."))
            return None
        try:
            await self.starter.check_branch(interaction, turn, await self.starter.server_settings(interaction))
        except ImageError as error:
            await send_private(interaction, error.user_message)
            await self._log_refusal(interaction, error)
            return None
        return turn

    async def _log_refusal(self, interaction: discord.Interaction, error: ImageError) -> None:
        """Refused before there was anything to type (a button, "Edit image"): the server's log channel hears it."""
        if interaction.channel_id is not None:
            await self.bot.log_channel.refusal(
                interaction.guild_id, interaction.user.id, interaction.channel_id, error.user_message, "",
            )


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Images(bot))
