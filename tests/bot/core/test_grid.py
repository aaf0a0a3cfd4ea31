"""The grid picture of /draw count: layout, numbered cells, failed cells, and redrawing from a posted grid."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.core.grid import BADGE, EMPTY, FAILED, Cell, cell_box, cell_size, compose_grid, shape
from tests.fakes.images import make_image

RED, BLUE = (230, 20, 20), (20, 20, 230)


def pixel(png: bytes, xy: tuple[int, int]) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(png)) as image:
        value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value  # type: ignore[return-value]


def middle(index: int, count: int, size: str = "auto") -> tuple[int, int]:
    left, top, right, bottom = cell_box(index, count, cell_size(size))
    return (left + right) // 2, (top + bottom) // 2


def test_two_cells_side_by_side_three_or_four_in_two_rows() -> None:
    assert [shape(n) for n in (2, 3, 4)] == [(2, 1), (2, 2), (2, 2)]
    with pytest.raises(ValueError):
        shape(5)


def test_cells_follow_the_requested_aspect() -> None:
    assert cell_size("auto") == (512, 512)
    assert cell_size("1536x1024") == (512, 341)
    assert cell_size("1024x1536") == (341, 512)


def test_each_cell_shows_its_image_numbered_in_the_corner() -> None:
    png = compose_grid([Cell(make_image(RED, (64, 64))), Cell(failed=True), Cell(), Cell(make_image(BLUE, (96, 64)))],
                       "auto")
    assert [pixel(png, middle(i, 4)) for i in range(4)] == [RED, FAILED, EMPTY, BLUE]
    left, top, _, _ = cell_box(0, 4, cell_size("auto"))
    assert pixel(png, (left + 1, top + 1)) == BADGE


def test_redrawn_from_a_posted_grid_only_cells_with_news_change() -> None:
    before = compose_grid([Cell(make_image(RED, (64, 64))), Cell(make_image(BLUE, (64, 64)))], "auto")
    after = compose_grid([Cell(make_image(BLUE, (64, 64))), Cell()], "auto", base=before)
    assert [pixel(after, middle(i, 2)) for i in range(2)] == [BLUE, BLUE]
    fresh = compose_grid([Cell(), Cell()], "auto", base=make_image(RED, (10, 10)))  # not a grid of this shape
    assert [pixel(fresh, middle(i, 2)) for i in range(2)] == [EMPTY, EMPTY]
