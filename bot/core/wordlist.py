"""A server's blocked words: exact words or phrases and simple `*` patterns, checked before anything is paid for.

Pure. A rule matches whole words only ("cat" blocks "Cat!" but not "category"), ignoring case; `*` stands for any
run of letters or digits inside one word ("cat*" blocks "category", "*cat" blocks "bobcat"). Spaces in a rule
match any whitespace, so a phrase still matches across a line break.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.core.errors import InvalidInput
from bot.core.i18n import Text, tr
from bot.core.text import escape

MAX_RULES = 100  # the list is shown in one private message
MAX_RULE_LENGTH = 50

# Member-facing text: catalogue messages, rendered in the member's language at the Discord edge.
RULE_EMPTY = tr("Type the word or pattern, e.g. `badword` or `bad*`.")
RULE_TOO_LONG = tr("A rule can be at most {limit} characters.", limit=MAX_RULE_LENGTH)
RULE_ONLY_STARS = tr("A rule needs at least one letter or digit besides `*`.")
LIST_FULL = tr("The list already holds {count} rules; remove one first.", count=MAX_RULES)


def normalise(text: str) -> str:
    """The stored form of a rule: trimmed, single-spaced, case-folded, runs of `*` as one. Raises InvalidInput."""
    rule = re.sub(r"\*+", "*", " ".join(text.split())).casefold()
    if not rule:
        raise InvalidInput(RULE_EMPTY)
    if len(rule) > MAX_RULE_LENGTH:
        raise InvalidInput(RULE_TOO_LONG)
    if not re.search(r"\w", rule):
        raise InvalidInput(RULE_ONLY_STARS)
    return rule


def first_match(rules: tuple[str, ...], text: str) -> str | None:
    """The first rule (in list order) that `text` breaks, or None."""
    folded = text.casefold()  # rules are stored case-folded, so "STRASSE" meets "Straße"
    for rule in rules:
        if _pattern(rule).search(folded):
            return rule
    return None


def refusal(rule: str, what: str) -> Text:
    """The refusal for a prompt ("prompt") or an /edit instruction ("instruction") that breaks `rule`."""
    if what == "instruction":
        return tr("Your instruction contains a word this server has blocked (rule: {rule}), so I won't draw it. "
                  "Nothing was charged.", rule=shown(rule))
    return tr("Your prompt contains a word this server has blocked (rule: {rule}), so I won't draw it. Nothing was "
              "charged.", rule=shown(rule))


def shown(rule: str) -> str:
    """A rule inside a message: escaped like any member's text, so `*` and `_` show as typed."""
    return f"**{escape(rule)}**"


@lru_cache(maxsize=4096)
def _pattern(rule: str) -> re.Pattern[str]:
    parts = []
    for word in rule.split(" "):
        parts.append(r"\w*".join(re.escape(piece) for piece in word.split("*")))
    # Lookarounds rather than \b: a rule may start or end with a non-word character ("c++", "#tag").
    body = r"\s+".join(parts)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
