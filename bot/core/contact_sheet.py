"""/history as a picture: a thumbnail per turn, in order, numbered like the text list, branches marked.

Pure Pillow on bytes in, PNG bytes out; `render_contact_sheet` runs it in a worker thread. A turn's parent is the
picture it was made from: when that is not the turn just before it in the list, the tile says so ("from #2"), so
branches (an Edit or Reroll pressed on an older result) are visible at a glance.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

TILE = 192  # the longest side of a thumbnail, in pixels
COLUMNS = 5
LABEL = 30  # room under each thumbnail for its number and branch mark
GAP = 8
BACKGROUND = (32, 34, 37)  # Discord's dark theme, so the sheet sits quietly in the client
TEXT = (235, 235, 235)
BRANCH = (250, 166, 26)  # the mark of a turn that did not build on the one before it
MISSING = (64, 66, 71)
# Pillow refuses images over ~179 MP itself; thumbnails of anything larger than this are not worth the memory.
MAX_SOURCE_PIXELS = 40_000_000


@dataclass(frozen=True)
class Tile:
    number: int  # as in the text list of /history
    image: bytes | None  # the turn's result as posted, or None (failed, forgotten, unreachable)
    parent_number: int | None = None  # the numbered turn it was made from; None for a fresh /draw


def contact_sheet(tiles: Sequence[Tile]) -> bytes:
    """One PNG with every tile, COLUMNS to a row."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    columns = min(COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    width = GAP + columns * (TILE + GAP)
    height = GAP + rows * (TILE + LABEL + GAP)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    previous: int | None = None
    for index, tile in enumerate(tiles):
        left = GAP + (index % columns) * (TILE + GAP)
        top = GAP + (index // columns) * (TILE + LABEL + GAP)
        _paste_thumbnail(sheet, draw, tile.image, left, top)
        branched = tile.parent_number is not None and tile.parent_number != previous
        caption = f"#{tile.number}" + (f"  from #{tile.parent_number}" if branched else "")
        draw.text((left + 2, top + TILE + 5), caption, fill=BRANCH if branched else TEXT, font=font)
        if branched:
            draw.rectangle((left - 2, top - 2, left + TILE + 1, top + TILE + 1), outline=BRANCH, width=2)
        previous = tile.number
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def render_contact_sheet(tiles: Sequence[Tile]) -> bytes:
    return await asyncio.to_thread(contact_sheet, tiles)


def _paste_thumbnail(sheet: Image.Image, draw: ImageDraw.ImageDraw, data: bytes | None, left: int, top: int) -> None:
    thumbnail = _thumbnail(data) if data else None
    if thumbnail is None:
        draw.rectangle((left, top, left + TILE - 1, top + TILE - 1), fill=MISSING)
        draw.line((left, top, left + TILE - 1, top + TILE - 1), fill=BACKGROUND, width=3)
        return
    # Centred in its square, so portraits and landscapes line up on one grid.
    x = left + (TILE - thumbnail.width) // 2
    y = top + (TILE - thumbnail.height) // 2
    sheet.paste(thumbnail, (x, y), thumbnail if thumbnail.mode == "RGBA" else None)


def _thumbnail(data: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None
            image.draft("RGB", (TILE, TILE))  # JPEG decodes at a fraction of its size; a no-op for others
            image.thumbnail((TILE, TILE), reducing_gap=2.0)
            return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # unreadable: shown as missing, the list still has the link
