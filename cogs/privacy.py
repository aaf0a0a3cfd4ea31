"""/forget (delete what the bot stored about a member) and the daily retention purge."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.core.i18n import Text, join_lines, tr, tr_n
from bot.core.privacy import delete_stored_responses
from bot.discord_adapter.i18n import say
from bot.storage import BotStore
from bot.storage.privacy import ForgetResult

if TYPE_CHECKING:
    from bot.discord_adapter.host import ImageBot

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 60.0
CONFIRM_ID, CANCEL_ID = "forget:confirm", "forget:cancel"
QUESTION = tr(
    "**Forget me?** This deletes what I stored about you: your prompts, the revised prompts, the records of "
    "your images and their costs, and the whole conversation of every thread I opened on one of your images "
    "(other members' turns in those threads too). I also ask OpenAI to delete the stored responses.\n"
    "Images already posted in Discord stay; delete those messages yourself if you want them gone.\n"
    "This can't be undone."
)
NOT_YOURS = tr("Only the member who ran /forget can answer this.")
CANCELLED = tr("Cancelled. Nothing was deleted.")
TIMED_OUT = tr("No answer within a minute, so nothing was deleted.")
WORKING = tr("Deleting…")


class ConfirmForget(discord.ui.View):
    """Confirm/Cancel under the private question; only the caller may press, and only for a minute."""

    def __init__(
        self, owner_id: int, *, timeout: float = CONFIRM_TIMEOUT, locale: discord.Locale | None = None
    ) -> None:
        super().__init__(timeout=timeout)
        self.locale = locale  # the asking member's; the buttons and every answer speak it
        self.confirm.label = say(tr("Forget me"), locale)
        self.cancel.label = say(tr("Cancel"), locale)
        self.owner_id = owner_id
        self.confirmed: bool | None = None
        self.question: discord.Interaction | None = None  # the /forget interaction, to edit on timeout

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(say(NOT_YOURS, interaction.locale), ephemeral=True)
        return False

    @discord.ui.button(label="Forget me", style=discord.ButtonStyle.danger, custom_id=CONFIRM_ID)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmForget]) -> None:
        self.confirmed = True
        self.stop()
        # Acknowledge at once (Discord's 3 s) and take the buttons away so nobody presses twice.
        await interaction.response.edit_message(content=say(WORKING, self.locale), view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=CANCEL_ID)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmForget]) -> None:
        self.confirmed = False
        self.stop()
        await interaction.response.edit_message(content=say(CANCELLED, self.locale), view=None)

    async def on_timeout(self) -> None:
        if self.question is None:
            return
        try:
            await self.question.edit_original_response(content=say(TIMED_OUT, self.locale), view=None)
        except discord.HTTPException:
            log.info("could not mark the /forget question as timed out")


class Privacy(commands.Cog):
    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.confirm_timeout = CONFIRM_TIMEOUT  # an attribute so tests need not wait a minute

    @property
    def store(self) -> BotStore:
        return self.bot.store

    # ------------------------------------------------------------------ /forget

    @app_commands.command(name="forget", description="Delete everything this bot stored about you")
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def forget(self, interaction: discord.Interaction) -> None:
        view = ConfirmForget(interaction.user.id, timeout=self.confirm_timeout, locale=interaction.locale)
        view.question = interaction
        await interaction.response.send_message(say(QUESTION, interaction.locale), view=view, ephemeral=True)
        if await view.wait() or not view.confirmed:
            return  # timed out (on_timeout said so) or cancelled (the button said so)
        report = await self.forget_member(interaction.user.id)
        await interaction.edit_original_response(content=say(report, interaction.locale))

    async def forget_member(self, user_id: int) -> Text:
        """Delete the member's data here, then ask OpenAI to delete the responses; the report to show them."""
        result = await self.store.forget_user(user_id)
        deleted, failed = await delete_stored_responses(self.bot.openai, result.response_ids)
        log.info("forgot user %s: %d turns, %d chains, %d/%d OpenAI responses deleted", user_id,
                 result.turns_deleted, result.chains_deleted, deleted, deleted + failed)
        return forget_report(result, deleted, failed)

    # ------------------------------------------------------------------ retention

    async def cog_load(self) -> None:
        self.retention.start()

    async def cog_unload(self) -> None:
        self.retention.cancel()

    async def purge_expired(self) -> int:
        """Delete finished turns older than RETENTION_DAYS; returns how many. Also what the daily loop runs."""
        cutoff = self.bot.clock() - datetime.timedelta(days=self.bot.settings.retention_days)
        purged = await self.store.purge_before(cutoff)
        log.info("retention: deleted %d turns created before %s", purged, cutoff.isoformat(timespec="seconds"))
        return purged

    @tasks.loop(hours=24)
    async def retention(self) -> None:
        try:
            await self.purge_expired()
        except Exception:
            # An unhandled error would stop the loop for good; log it and try again tomorrow.
            log.exception("retention purge failed")

    @retention.before_loop
    async def _before_retention(self) -> None:
        # The first run happens once the bot is up and start-up recovery is done, then every 24 hours.
        await self.bot.wait_until_ready()
        await self.bot.recovered.wait()


def forget_report(result: ForgetResult, deleted: int, failed: int) -> Text:
    lines: list[Text] = [tr(
        "Done. I deleted {records} and {conversations}.",
        records=tr_n("{count} image record", "{count} image records", result.turns_deleted),
        conversations=tr_n("{count} conversation", "{count} conversations", result.chains_deleted),
    )]
    if deleted or failed:
        lines.append(tr_n("OpenAI deleted {count} stored response.", "OpenAI deleted {count} stored responses.",
                          deleted))
        if failed:
            lines.append(tr_n(
                "{count} response could not be deleted right now; OpenAI removes stored responses after 30 days "
                "anyway.",
                "{count} responses could not be deleted right now; OpenAI removes stored responses after 30 days "
                "anyway.", failed,
            ))
    if result.turns_kept_in_flight:
        lines.append(tr_n(
            "{count} image still being made was kept; run /forget again once it is finished.",
            "{count} images still being made were kept; run /forget again once they are finished.",
            result.turns_kept_in_flight,
        ))
    return join_lines(lines)


async def setup(bot: ImageBot) -> None:
    await bot.add_cog(Privacy(bot))
