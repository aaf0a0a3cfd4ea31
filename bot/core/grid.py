"""The picture of /draw count: one numbered cell per variation (1×2 for two, 2×2 for three or four).

Pure Pillow on bytes in, PNG bytes out; `render_grid` runs it in a worker thread. The layout depends only on the
number of cells and the requested size, so a grid can be redrawn later from its posted picture (`base`): a cell
without news keeps the pixels it had there, which is how one cell is rerolled after a restart.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps

CELL = 512  # the longest side of a cell, in pixels
GAP = 8
BACKGROUND = (32, 34, 37)  # Discord's dark theme, like the contact sheet
EMPTY = (64, 66, 71)  # a cell still waiting for its first preview
FAILED = (96, 32, 32)
BADGE = (0, 0, 0)
TEXT = (255, 255, 255)
BADGE_SIZE = 36
MAX_SOURCE_PIXELS = 40_000_000  # as the contact sheet: nothing the bot makes comes close


@dataclass(frozen=True)
class Cell:
    image: bytes | None = None  # the newest preview or the final image
    failed: bool = False


def shape(count: int) -> tuple[int, int]:
    """Columns and rows of a grid of `count` cells."""
    if not 2 <= count <= 4:
        raise ValueError("a grid has 2 to 4 cells")
    return (2, 1) if count == 2 else (2, 2)


def cell_size(size: str) -> tuple[int, int]:
    """A cell's pixels for an image of the requested `WIDTHxHEIGHT` (square for "auto")."""
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        return CELL, CELL
    w, h = int(width), int(height)
    scale = CELL / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def cell_box(index: int, count: int, cell: tuple[int, int]) -> tuple[int, int, int, int]:
    """Left, top, right, bottom of cell `index` (0-based)."""
    columns, _ = shape(count)
    left = GAP + (index % columns) * (cell[0] + GAP)
    top = GAP + (index // columns) * (cell[1] + GAP)
    return left, top, left + cell[0], top + cell[1]


def compose_grid(cells: Sequence[Cell], size: str, base: bytes | None = None) -> bytes:
    """One PNG with every cell numbered 1..n; cells with nothing new keep `base`'s pixels when it fits."""
    cell = cell_size(size)
    columns, rows = shape(len(cells))
    dimensions = (GAP + columns * (cell[0] + GAP), GAP + rows * (cell[1] + GAP))
    canvas, from_base = _base(base, dimensions)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=22)
    for index, content in enumerate(cells):
        left, top, right, bottom = cell_box(index, len(cells), cell)
        if content.image is not None:
            _paste(canvas, content.image, (left, top), cell)
        elif content.failed:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=FAILED)  # the reason is in the message
        elif not from_base:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=EMPTY)
        # The number sits in the corner, away from the middle of the picture.
        draw.rectangle((left, top, left + BADGE_SIZE, top + BADGE_SIZE), fill=BADGE)
        draw.text((left + BADGE_SIZE / 2, top + BADGE_SIZE / 2), str(index + 1), fill=TEXT, font=font, anchor="mm")
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


async def render_grid(cells: Sequence[Cell], size: str, base: bytes | None = None) -> bytes:
    return await asyncio.to_thread(compose_grid, list(cells), size, base)


def _base(data: bytes | None, dimensions: tuple[int, int]) -> tuple[Image.Image, bool]:
    """The canvas to draw on, and whether it is the old grid."""
    if data is not None:
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.size == dimensions:
                    return image.convert("RGB"), True
        except (OSError, ValueError):
            pass  # an unreadable old grid: start from an empty one
    return Image.new("RGB", dimensions, BACKGROUND), False


def _paste(canvas: Image.Image, data: bytes, corner: tuple[int, int], cell: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(data)) as image:
        if image.width * image.height > MAX_SOURCE_PIXELS:
            raise ValueError("image too large for a grid cell")
        image.draft("RGB", cell)  # JPEG: decode at a reduced size
        picture = ImageOps.contain(image.convert("RGBA"), cell)
    tile = Image.new("RGBA", cell, (*EMPTY, 255))
    tile.alpha_composite(picture, ((cell[0] - picture.width) // 2, (cell[1] - picture.height) // 2))
    canvas.paste(tile.convert("RGB"), corner)
