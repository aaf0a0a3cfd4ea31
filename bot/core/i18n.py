"""Messages members read, kept as catalogue ids with named placeholders until the Discord edge renders them.

The engine never picks a language: it builds `Text` values (`tr("Cost {cost}.", cost=...)`); the edge renders each
in the member's locale from the gettext catalogues under bot/locales. The English msgid is the fallback, so `str()`
of a `Text` is the English message (logs, tests, places without a member).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Translations(Protocol):
    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


class English:
    """The msgids themselves: what every catalogue falls back to."""

    def gettext(self, message: str, /) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int, /) -> str:
        return singular if n == 1 else plural


ENGLISH = English()


@dataclass(frozen=True)
class Text:
    """One message: its English msgid (plural form and count when it has one) and its named parameters.

    Parameters may be Texts themselves (a reason inside a refusal); they are rendered in the same language.
    """

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: int | None = None

    def render(self, translations: Translations = ENGLISH) -> str:
        if self.plural is not None and self.count is not None:
            template = translations.ngettext(self.msgid, self.plural, self.count)
            english = self.msgid if self.count == 1 else self.plural
        else:
            template = translations.gettext(self.msgid)
            english = self.msgid
        values = {name: render(value, translations) for name, value in self.params.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return english.format(**values)  # a broken translation must not hide the message

    def __str__(self) -> str:
        return self.render()


Message = str | Text


def tr(msgid: str, **params: Any) -> Text:
    """A message to translate (`pybabel extract -k tr` finds these)."""
    return Text(msgid, params)


def tr_n(singular: str, plural: str, count: int, **params: Any) -> Text:
    """A message with plural forms; `{count}` is available to the text."""
    return Text(singular, {"count": count, **params}, plural, count)


def join_lines(lines: Sequence[Message]) -> Text:
    """Several messages, one per line, rendered together in one language (no msgid of its own to translate)."""
    names = [f"line{i}" for i in range(len(lines))]
    return Text("\n".join("{" + name + "}" for name in names), dict(zip(names, lines, strict=True)))


def render(value: Any, translations: Translations = ENGLISH) -> str:
    """A Text in this language; anything else (a member's prompt, a number) as it is."""
    if isinstance(value, Text):
        return value.render(translations)
    return str(value)
