"""The catalogues: every message the code and the command tree can show is translated in every shipped language,
with the English placeholders and markdown, and renders in the member's language with English as the fallback."""

from __future__ import annotations

import ast
import importlib.util
import string
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.core.i18n import ENGLISH, Text, join_lines, tr, tr_n
from bot.discord_adapter.i18n import LOCALES_DIR, catalogue_name, month_and_year, say, shipped

ROOT = Path(__file__).resolve().parents[3]
LOCALES = ["de", "es_ES", "fr", "ja", "pt_BR"]
# Discord's name rule (^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$, lowercase where a letter has cases).
NAME_CONTEXTS = ("command name", "option name")
CONTEXT_MENUS = {"Edit image"}  # message commands: names may have spaces and capitals


def update_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_catalogues", ROOT / "scripts" / "update_catalogues.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def template() -> Catalog:
    """What the code and the command tree hold right now, extracted afresh (not the checked-in .pot)."""
    catalog: Catalog = update_script().template()
    return catalog


def catalogue(name: str) -> Catalog:
    with (LOCALES_DIR / name / "LC_MESSAGES" / "threadpaint.po").open("rb") as source:
        return read_po(source, locale=name)


def forms(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def markup(text: str) -> tuple[int, int, int]:
    """Bold, code and links: a translation that loses one changes how the message looks."""
    return text.count("**"), text.count("`"), text.count("](")


def messages(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def test_the_shipped_languages() -> None:
    assert shipped() == LOCALES


def test_the_extraction_finds_the_messages_and_the_command_tree(template: Catalog) -> None:
    ids = {(m.context, m.id) for m in messages(template)}
    assert (None, "🎨 {verb}… preview {number} of {expected}") in ids
    assert (None, ("{count} image record", "{count} image records")) in ids
    assert ("command name", "draw") in ids and ("option description", "What to draw") in ids
    assert ("choice name", "high") in ids


@pytest.mark.parametrize("name", LOCALES)
def test_every_message_is_translated_in_every_catalogue(template: Catalog, name: str) -> None:
    found = catalogue(name)
    missing = [m.id for m in messages(template) if not all(forms(getattr(found.get(m.id, m.context), "string", "")))]
    assert missing == [], f"{name} lacks translations; run scripts/update_catalogues.py and translate them"
    fuzzy = [m.id for m in messages(found) if m.fuzzy]
    assert fuzzy == [] and not found.fuzzy, f"{name}: fuzzy entries are not used: {fuzzy}"
    stale = {(m.context, m.id) for m in messages(found)} - {(m.context, m.id) for m in messages(template)}
    assert stale == set(), f"{name} holds messages the code no longer has"


@pytest.mark.parametrize("name", LOCALES)
def test_translations_keep_the_placeholders_and_markdown(template: Catalog, name: str) -> None:
    problems = []
    for message in messages(catalogue(name)):
        english = forms(message.id)
        for translated in forms(message.string):
            if message.pluralizable:
                # A plural form may leave the number out ("eine Antwort"), nothing else.
                expected = set().union(*map(fields, english))
                ok = expected - {"count"} <= fields(translated) <= expected
            else:
                ok = fields(translated) == fields(message.id)
            if not ok:
                problems.append(f"placeholders {message.id!r} -> {translated!r}")
            if markup(translated) != markup(english[-1]):
                problems.append(f"markdown {message.id!r} -> {translated!r}")
    assert problems == []


@pytest.mark.parametrize("name", LOCALES)
def test_command_names_follow_discords_rules(name: str) -> None:
    problems = []
    for message in messages(catalogue(name)):
        text = forms(message.string)[0]
        if message.context in NAME_CONTEXTS and message.id not in CONTEXT_MENUS:
            if not (1 <= len(text) <= 32 and all(c.isalnum() or c in "-_" for c in text) and text == text.lower()):
                problems.append(text)
        elif message.context is not None and not 1 <= len(text) <= 100:  # descriptions, choices, menu names
            problems.append(text)
    assert problems == []


def test_every_tr_call_names_its_message_literally() -> None:
    """pybabel extracts only literal ids: tr(f"...") or tr(variable) would reach members untranslated."""
    problems = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tr", "tr_n"):
                ids = node.args[:2] if node.func.id == "tr_n" else node.args[:1]
                if not ids or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in ids):
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert problems == []


def test_the_checked_in_template_is_current(template: Catalog) -> None:
    with (LOCALES_DIR / "threadpaint.pot").open("rb") as source:
        checked_in = read_po(source)
    assert {(m.context, m.id) for m in messages(checked_in)} == {(m.context, m.id) for m in messages(template)}


def test_a_message_renders_in_the_members_language_with_english_as_the_fallback() -> None:
    status = tr("🎨 {verb}… preview {number} of {expected}", verb=tr("Drawing"), number=1, expected=2)
    assert say(status, "de") == "🎨 Zeichne… Vorschau 1 von 2"
    assert say(status, "pt-BR") == "🎨 Desenhando… prévia 1 de 2"
    assert say(status, "es-419") == "🎨 Dibujando… vista previa 1 de 2"  # the Spanish catalogue
    assert say(status, "ko") == say(status, "en-US") == str(status) == "🎨 Drawing… preview 1 of 2"
    assert catalogue_name("en-GB") is None and catalogue_name("es-ES") == "es_ES"
    # A member's own words are never looked up or formatted.
    assert say("{not a placeholder} Prompt", "de") == "{not a placeholder} Prompt"


def test_plural_forms_follow_each_language() -> None:
    records = [tr_n("{count} image record", "{count} image records", n) for n in (1, 3)]
    assert [say(r, "en-US") for r in records] == ["1 image record", "3 image records"]
    assert [say(r, "de") for r in records] == ["1 Bildeintrag", "3 Bildeinträge"]
    assert [say(r, "fr") for r in records] == ["1 trace d'image", "3 traces d'images"]
    assert [say(r, "ja") for r in records] == ["画像の記録 1 件", "画像の記録 3 件"]
    report = tr("Done. I deleted {records} and {conversations}.", records=records[1],
                conversations=tr_n("{count} conversation", "{count} conversations", 1))
    assert say(join_lines([report, tr("Nobody yet.")]), "es-ES") == (
        "Hecho. Borré 3 registros de imágenes y 1 conversación.\nNadie todavía."
    )


def test_a_broken_translation_shows_the_english_message() -> None:
    class Broken:
        def gettext(self, message: str, /) -> str:
            return "Kosten {betrag}."  # a placeholder renamed by mistake

        def ngettext(self, singular: str, plural: str, n: int, /) -> str:
            return ENGLISH.ngettext(singular, plural, n)

    assert Text("Cost {cost}.", {"cost": "$0.04"}).render(Broken()) == "Cost $0.04."


def test_month_names_come_from_the_locale() -> None:
    november = date(2026, 11, 30)
    assert month_and_year(november, "en-US") == "November 2026"
    assert month_and_year(november, "de") == "November 2026"
    assert month_and_year(november, "es-ES") == "noviembre de 2026"
    assert month_and_year(november, "ja") == "2026年11月"
