"""Refresh the message catalogues: `python scripts/update_catalogues.py [--add LOCALE]`.

Extracts every tr()/tr_n() message from bot/ and cogs/ (babel.cfg) plus every command name, description, option and
choice the command tree syncs (with a msgctxt saying which), writes bot/locales/threadpaint.pot, and merges it into
each bot/locales/<locale>/LC_MESSAGES/threadpaint.po (new messages arrive untranslated; the tests then name them).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from babel.messages.catalog import Catalog, Message  # noqa: E402
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.frontend import parse_mapping_cfg  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402
from discord.ext import commands  # noqa: E402

from bot.app import EXTENSIONS  # noqa: E402
from bot.discord_adapter.i18n import DOMAIN, LOCALES_DIR, command_strings, shipped  # noqa: E402
from bot.discord_adapter.tree import ThreadpaintTree  # noqa: E402

KEYWORDS = {"tr": None, "tr_n": (1, 2)}


async def tree_strings() -> list[tuple[str, str]]:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), tree_cls=ThreadpaintTree)
    async with bot:
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        return await command_strings(bot.tree)


def template() -> Catalog:
    catalog = Catalog(domain=DOMAIN, project="threadpaint", charset="utf-8")
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=("Translators:",)
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for context, text in asyncio.run(tree_strings()):
        catalog.add(text, None, [], context=context)
    return catalog


def translated(message: Message) -> bool:
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(forms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add", metavar="LOCALE", help="start a catalogue for a new locale (gettext style: it, zh_TW)")
    args = parser.parse_args()
    pot = template()
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, pot, width=120, omit_header=False, sort_output=False)
    locales = shipped() + ([args.add] if args.add else [])
    for name in locales:
        path = LOCALES_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=name, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=name, domain=DOMAIN, project="threadpaint", charset="utf-8")
        catalog.update(pot, update_header_comment=False, no_fuzzy_matching=True)
        catalog.fuzzy = False  # a fuzzy header would keep its plural rule out of the compiled catalogue
        catalog.last_translator = catalog.language_team = "threadpaint contributors"
        with path.open("wb") as out:
            write_po(out, catalog, width=120, ignore_obsolete=True, include_previous=False)
        missing = sum(1 for message in catalog if message.id and not translated(message))
        print(f"{name}: {len(catalog)} messages, {missing} untranslated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
