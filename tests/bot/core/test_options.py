"""Option validation: impossible combinations are caught before any API call."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import InvalidInput
from bot.core.options import BACKGROUNDS, FORMATS, MAX_PROMPT_CHARS, QUALITIES, SIZES, ImageOptions, check_prompt


def test_transparent_jpeg_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="transparent"):
        ImageOptions(background="transparent", format="jpeg").validate()


def test_compression_needs_lossy_format() -> None:
    with pytest.raises(InvalidInput, match="compression"):
        ImageOptions(format="png", compression=50).validate()
    assert ImageOptions(format="webp", compression=50).validate().tool_fields()["output_compression"] == 50


def test_tool_fields_omit_compression_when_unset() -> None:
    assert ImageOptions().tool_fields() == {
        "size": "auto", "quality": "auto", "background": "auto", "output_format": "png",
    }


@given(
    size=st.sampled_from(SIZES), quality=st.sampled_from(QUALITIES), background=st.sampled_from(BACKGROUNDS),
    fmt=st.sampled_from(FORMATS), compression=st.one_of(st.none(), st.integers(-50, 150)),
)
def test_validation_accepts_exactly_the_valid_combinations(
    size: str, quality: str, background: str, fmt: str, compression: int | None
) -> None:
    options = ImageOptions(size, quality, background, fmt, compression)
    valid = not (background == "transparent" and fmt == "jpeg") and (
        compression is None or (fmt != "png" and 0 <= compression <= 100)
    )
    if valid:
        assert options.validate() is options
    else:
        with pytest.raises(InvalidInput):
            options.validate()


def test_options_round_trip_json() -> None:
    options = ImageOptions("1536x1024", "high", "opaque", "webp", 80)
    assert ImageOptions.from_json(options.to_json()) == options


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_prompt(text: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        check_prompt(text)


def test_long_prompt() -> None:
    with pytest.raises(InvalidInput, match=str(MAX_PROMPT_CHARS)):
        check_prompt("x" * (MAX_PROMPT_CHARS + 1))
    assert check_prompt("  a cat  ") == "a cat"
