"""/history's contact sheet: thumbnails in order on a grid, numbered, branches marked; decoded and checked."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from PIL import Image

from bot.core.contact_sheet import (
    BACKGROUND,
    BRANCH,
    COLUMNS,
    GAP,
    LABEL,
    MISSING,
    TILE,
    Tile,
    contact_sheet,
    render_contact_sheet,
)
from tests.fakes.images import make_image

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 40), (30, 60, 220)


def tile_box(index: int, columns: int) -> tuple[int, int]:
    """The top-left corner of tile `index`, as the layout promises: a grid of TILE squares with labels below."""
    return GAP + (index % columns) * (TILE + GAP), GAP + (index // columns) * (TILE + LABEL + GAP)


def open_sheet(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def test_thumbnails_appear_in_order_on_the_grid() -> None:
    colours = [RED, GREEN, BLUE, RED, GREEN, BLUE, RED]
    tiles = [Tile(n, make_image(c, (1536, 1024)), n - 1 if n > 1 else None) for n, c in enumerate(colours, 1)]
    sheet = open_sheet(contact_sheet(tiles))
    assert sheet.size == (GAP + COLUMNS * (TILE + GAP), GAP + 2 * (TILE + LABEL + GAP))  # 7 tiles: two rows of 5
    for index, colour in enumerate(colours):
        left, top = tile_box(index, COLUMNS)
        assert sheet.getpixel((left + TILE // 2, top + TILE // 2)) == colour
    # A landscape image is scaled to TILE wide and centred: the square's top strip stays background.
    left, top = tile_box(0, COLUMNS)
    assert sheet.getpixel((left + TILE // 2, top + 5)) == BACKGROUND
    # Empty slots on the last row stay background.
    left, top = tile_box(9, COLUMNS)
    assert sheet.getpixel((left + TILE // 2, top + TILE // 2)) == BACKGROUND


def test_a_branch_is_framed_and_labelled_in_the_branch_colour() -> None:
    # 3 was made from 1, not from 2: an Edit pressed on an older result.
    tiles = [Tile(1, make_image(RED, (64, 64))), Tile(2, make_image(GREEN, (64, 64)), 1),
             Tile(3, make_image(BLUE, (64, 64)), 1)]
    sheet = open_sheet(contact_sheet(tiles))
    for index, branched in ((1, False), (2, True)):
        left, top = tile_box(index, 3)
        frame = sheet.getpixel((left - 1, top + TILE // 2))
        assert (frame == BRANCH) is branched
        label = sheet.crop((left, top + TILE, left + TILE, top + TILE + LABEL))
        assert (BRANCH in {colour for _, colour in label.getcolors(maxcolors=100_000) or []}) is branched


def test_missing_and_unreadable_images_get_a_placeholder() -> None:
    tiles = [Tile(1, None), Tile(2, b"not an image"), Tile(3, make_image(GREEN, (100, 300)))]
    sheet = open_sheet(contact_sheet(tiles))
    for index in (0, 1):
        left, top = tile_box(index, 3)
        assert sheet.getpixel((left + 10, top + TILE - 40)) == MISSING
    left, top = tile_box(2, 3)
    assert sheet.getpixel((left + TILE // 2, top + TILE // 2)) == GREEN
    assert sheet.getpixel((left + 5, top + TILE // 2)) == BACKGROUND  # a portrait is centred, sides empty


async def test_rendering_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    image = make_image(RED, (32, 32))
    seen: list[str] = []
    real = Image.new

    def spy(*args: Any, **kwargs: Any) -> Image.Image:
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(Image, "new", spy)
    data = await render_contact_sheet([Tile(1, image)])
    monkeypatch.undo()
    assert open_sheet(data).getpixel((GAP + TILE // 2, GAP + TILE // 2)) == RED
    assert seen and threading.main_thread().name not in seen  # Pillow work stays off the event loop
