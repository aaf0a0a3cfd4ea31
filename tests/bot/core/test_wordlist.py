"""Blocked words: whole words, case-insensitive, `*` inside a word, phrases; rules stored normalised."""

import json

import pytest

from bot.core.errors import InvalidInput
from bot.core.guild_settings import GuildSettings
from bot.core.wordlist import MAX_RULE_LENGTH, first_match, normalise, refusal


@pytest.mark.parametrize(
    ("rules", "text", "expected"),
    [
        (("cat",), "a Cat!", "cat"),
        (("cat",), "CAT", "cat"),
        (("cat",), "a category of things", None),  # whole words only
        (("cat",), "bobcat", None),
        (("cat*",), "a category", "cat*"),
        (("cat*",), "cat", "cat*"),  # * may match nothing
        (("*cat",), "a bobcat", "*cat"),
        (("*cat",), "a category", None),
        (("c*t",), "a coat", "c*t"),
        (("c*t",), "a cat-flap", "c*t"),  # a hyphen ends a word
        (("c*t",), "a cool tree", None),  # * never crosses a space
        (("red fox",), "the red\n  fox", "red fox"),  # spaces in a rule match any whitespace
        (("red fox",), "the redfox", None),
        (("c++",), "learn c++ now", "c++"),  # regex characters are literal
        (("c++",), "learn c now", None),
        (("Straße",), "STRASSE", "strasse"),  # case-folded both ways (stored folded)
        (("strasse",), "die Straße", "strasse"),
        (("dog", "cat"), "cat and dog", "dog"),  # the first rule in list order
        ((), "anything", None),
    ],
)
def test_first_match(rules: tuple[str, ...], text: str, expected: str | None) -> None:
    assert first_match(tuple(normalise(r) for r in rules), text) == expected


def test_normalise() -> None:
    assert normalise("  Bad   WORD ") == "bad word"
    assert normalise("b**d") == "b*d"
    for bad in ("", "   ", "*", "** *", "x" * (MAX_RULE_LENGTH + 1)):
        with pytest.raises(InvalidInput):
            normalise(bad)


def test_refusal_names_the_rule_escaped() -> None:
    assert str(refusal("bad_*", "prompt")) == (
        "Your prompt contains a word this server has blocked (rule: **bad\\_\\***), so I won't draw it. "
        "Nothing was charged."
    )


def test_stored_rules_round_trip_and_bad_ones_are_dropped() -> None:
    s = GuildSettings(blocked_words=("cat*", "red fox"))
    assert GuildSettings.from_json(s.to_json()) == s
    with pytest.raises(ValueError):
        GuildSettings(blocked_words=("Not Normalised",))
    parsed = GuildSettings.from_json(json.dumps({"blocked_words": ["ok", "*"], "spoiler": True}))
    assert parsed == GuildSettings(spoiler=True)
