"""Members' languages: the gettext catalogues in bot/locales, read with Babel, and the command tree's translator.

Discord sends each interaction's locale ("de", "es-ES", "pt-BR", ...); catalogues are named the gettext way
("de", "es_ES", "pt_BR"). A locale without a catalogue falls back to one for its language, then to English.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import io
import re
from pathlib import Path
from typing import Any

import discord
from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from discord import app_commands

from bot.core.i18n import ENGLISH, Text, render
from bot.core.i18n import Translations as Catalogue

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "threadpaint"
# The msgctxt of each string of the command tree, so "draw" the command and "draw" in a sentence never collide.
CONTEXTS = {
    app_commands.TranslationContextLocation.command_name: "command name",
    app_commands.TranslationContextLocation.group_name: "command name",
    app_commands.TranslationContextLocation.command_description: "command description",
    app_commands.TranslationContextLocation.group_description: "command description",
    app_commands.TranslationContextLocation.parameter_name: "option name",
    app_commands.TranslationContextLocation.parameter_description: "option description",
    app_commands.TranslationContextLocation.choice_name: "choice name",
}


def shipped() -> list[str]:
    """The catalogue names under bot/locales (gettext style: de, es_ES, pt_BR...)."""
    return list(_shipped())


@functools.cache
def _shipped() -> tuple[str, ...]:
    # Package data: fixed for the process's life, and asked for on every message rendered.
    return tuple(sorted(p.parents[1].name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))


def catalogue_name(locale: discord.Locale | str | None) -> str | None:
    """The shipped catalogue for a Discord locale: the exact one, else one of the same language, else None."""
    if locale is None:
        return None
    wanted = str(locale.value if isinstance(locale, discord.Locale) else locale).replace("-", "_")
    names = shipped()
    if wanted in names:
        return wanted
    language = wanted.split("_")[0]
    return next((name for name in names if name.split("_")[0] == language), None)


@functools.cache
def _load(name: str) -> NullTranslations:
    # The .po is the catalogue; compiling it in memory means no .mo can drift from it.
    with (LOCALES_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        catalog = read_po(source, locale=name, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translations(locale: discord.Locale | str | None) -> Catalogue:
    name = catalogue_name(locale)
    if name is None:
        return ENGLISH
    return _load(name)


def say(message: Any, locale: discord.Locale | str | None) -> str:
    """A message (a Text, or plain text such as a member's prompt) in this locale's language."""
    if isinstance(message, Text):
        return message.render(translations(locale))
    return render(message)


def month_and_year(when: datetime.date, locale: discord.Locale | str | None) -> str:
    """"November 2026", "noviembre de 2026", "2026年11月": the locale's own pattern, from Babel's CLDR data."""
    name = catalogue_name(locale) or "en"
    return format_skeleton("yMMMM", when, locale=Locale.parse(name))


def for_member(interaction: discord.Interaction) -> str:
    """The locale a member's Discord client runs in, as text (kept with jobs that outlive the interaction)."""
    return str(interaction.locale.value)


def server_locale(client: discord.Client, guild_id: int | None) -> str | None:
    """A server's preferred locale (Community servers set it), for messages posted after the member's is gone."""
    guild = client.get_guild(guild_id) if guild_id is not None else None
    return None if guild is None else str(guild.preferred_locale.value)


class CatalogueTranslator(app_commands.Translator):
    """Command names, descriptions, options and choices from the same catalogues, for every shipped locale."""

    async def load(self) -> None:
        # discord.py calls this once, from setup_hook: parse every catalogue now, in a thread, not on the event
        # loop in the middle of someone's job.
        await asyncio.to_thread(lambda: [_load(name) for name in shipped()])

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        name = catalogue_name(locale)
        msgctxt = CONTEXTS.get(context.location)
        if name is None or name.startswith("en") or msgctxt is None:
            return None
        translated = _load(name).pgettext(msgctxt, string.message)
        return translated if isinstance(translated, str) and translated != string.message else None


# Choice names that read the same in every language (sizes, ratios): not worth a catalogue entry.
_TECHNICAL = re.compile(r"[0-9x:]+")


class _Recorder(app_commands.Translator):
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], None] = {}

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        msgctxt = CONTEXTS.get(context.location)
        if msgctxt is not None and not _TECHNICAL.fullmatch(string.message):
            self.seen[(msgctxt, string.message)] = None
        return None


async def command_strings(tree: app_commands.CommandTree[Any]) -> list[tuple[str, str]]:
    """(msgctxt, English text) of every name, description and choice the tree would sync, in tree order."""
    recorder = _Recorder()
    for command in tree.get_commands():
        await command.get_translated_payload(tree, recorder)
    return list(recorder.seen)
