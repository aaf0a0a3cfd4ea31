"""Picture sizes from an aspect ratio and a resolution, within the image tool's limits.

Models that accept arbitrary sizes (gpt-image-2 and later) take any WIDTHxHEIGHT with both sides divisible by 16,
an aspect between 1:3 and 3:1, a longest side up to 3840 and 655,360 to 8,294,400 pixels in all. Older models take
only the three standard sizes, so a request is mapped to the nearest of those and the member is told.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.core.errors import InvalidInput
from bot.core.i18n import Message, Text, tr

ASPECTS = ("1:1", "3:2", "2:3", "4:3", "3:4", "5:4", "4:5", "16:9", "9:16", "21:9", "9:21", "3:1", "1:3")
# Target pixel areas: standard is OpenAI's 1024x1024, large is 1536x1536 (16:9 gives 2048x1152), 4k is
# 3840x2160's area (16:9 gives exactly 3840x2160).
RESOLUTIONS = {"standard": 1024 * 1024, "large": 1536 * 1536, "4k": 3840 * 2160}
STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536")
STEP = 16
MAX_EDGE = 3840
MIN_PIXELS = 655_360
MAX_PIXELS = 3840 * 2160
MAX_RATIO = 3.0
EXPERIMENTAL_PIXELS = 2560 * 1440  # OpenAI calls anything larger experimental
_SIZE = re.compile(r"([1-9][0-9]{1,4})x([1-9][0-9]{1,4})")


@dataclass(frozen=True)
class SizeChoice:
    size: str
    note: Message | None  # what the member should know (mapped to a standard size, experimental), else None


def parse_size(text: str) -> tuple[int, int] | None:
    match = _SIZE.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None


def size_problem(width: int, height: int) -> Text | None:
    """Why OpenAI would refuse this arbitrary size, or None when it is valid."""
    if width % STEP or height % STEP:
        return tr("both sides must be divisible by 16")
    if max(width, height) > MAX_EDGE:
        return tr("the longest side may be at most {edge}", edge=MAX_EDGE)
    if max(width, height) > MAX_RATIO * min(width, height):
        return tr("the aspect ratio must be between 1:3 and 3:1")
    if not MIN_PIXELS <= width * height <= MAX_PIXELS:
        return tr("the picture must have {low} to {high} pixels", low=f"{MIN_PIXELS:,}", high=f"{MAX_PIXELS:,}")
    return None


def size_for(aspect: str, resolution: str) -> str:
    """The valid WIDTHxHEIGHT nearest to `aspect` at about `resolution`'s area (aspect first, then area)."""
    w, h = (int(part) for part in aspect.split(":"))
    ratio, area = w / h, RESOLUTIONS[resolution]

    def distance(size: tuple[int, int]) -> tuple[float, float]:
        return round(abs(math.log(size[0] / size[1] / ratio)), 2), abs(math.log(size[0] * size[1] / area))

    # Rounding both sides to 16 separately can push 3:1 past 3:1; trying every height keeps each size valid.
    candidates = [(_multiple(height * ratio), height) for height in range(STEP, MAX_EDGE + 1, STEP)]
    width, height = min((size for size in candidates if size_problem(*size) is None), key=distance)
    return f"{width}x{height}"


def choose_size(aspect: str | None, resolution: str | None, *, any_size: bool) -> SizeChoice:
    """The size for an aspect/resolution request on a model that does (or doesn't) take arbitrary sizes."""
    aspect = aspect or "1:1"
    resolution = resolution or "standard"
    if aspect not in ASPECTS:
        raise InvalidInput(tr("{option} must be one of {allowed}; got {value}.", option="aspect",
                              allowed=", ".join(ASPECTS), value=repr(aspect)))
    if resolution not in RESOLUTIONS:
        raise InvalidInput(tr("{option} must be one of {allowed}; got {value}.", option="resolution",
                              allowed=", ".join(RESOLUTIONS), value=repr(resolution)))
    size = size_for(aspect, resolution)
    width, height = _sides(size)
    if not any_size:
        nearest = nearest_standard(width, height)
        if nearest == size:
            return SizeChoice(size, None)
        return SizeChoice(nearest, tr(
            "This server's image model only makes {sizes}, so I used {size} (the nearest to {aspect} "
            "{resolution}).", sizes=_label(", ".join(STANDARD_SIZES)), size=_label(nearest), aspect=aspect,
            resolution=resolution,
        ))
    if width * height > EXPERIMENTAL_PIXELS:
        return SizeChoice(size, tr("{size} is above 2560×1440, which OpenAI calls experimental.", size=_label(size)))
    return SizeChoice(size, None)


def nearest_standard(width: int, height: int) -> str:
    """The standard size whose aspect ratio is closest (on a log scale, so 2:1 and 1:2 are equally far)."""
    ratio = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda size: abs(ratio - math.log(_sides(size)[0] / _sides(size)[1])))


def _sides(size: str) -> tuple[int, int]:
    parsed = parse_size(size)
    assert parsed is not None
    return parsed


def _multiple(value: float) -> int:
    return max(STEP, round(value / STEP) * STEP)


def _label(text: str) -> str:
    return text.replace("x", "×")
