"""Thread names and captions stay inside Discord's limits."""

from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import CAPTION_LIMIT, caption, thread_name


def test_thread_name_is_one_line_and_short() -> None:
    assert thread_name("a  cat\n\nin a hat") == "a cat in a hat"
    long = thread_name("word " * 100)
    assert len(long) == 100 and long.endswith("…")


@given(st.text(max_size=5000))
def test_thread_name_always_valid(prompt: str) -> None:
    name = thread_name(prompt)
    assert 1 <= len(name) <= 100


@given(st.text(min_size=1, max_size=5000), st.one_of(st.none(), st.text(max_size=6000)))
def test_caption_fits_embed_description(prompt: str, revised: str | None) -> None:
    text = caption(prompt, revised)
    assert len(text) <= CAPTION_LIMIT


def test_caption_shows_both_prompts() -> None:
    text = caption("a cat", "A fluffy gray tabby cat")
    assert "a cat" in text and "A fluffy gray tabby cat" in text and "Revised prompt" in text
