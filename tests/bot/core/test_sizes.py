from __future__ import annotations

import pytest

from bot.core.capabilities import capabilities_of
from bot.core.costs import image_output_tokens as output_tokens
from bot.core.errors import InvalidInput
from bot.core.options import ImageOptions
from bot.core.sizes import ASPECTS, RESOLUTIONS, choose_size, nearest_standard, parse_size, size_for, size_problem


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("resolution", list(RESOLUTIONS))
def test_every_choice_maps_to_a_valid_size_of_that_shape(aspect: str, resolution: str) -> None:
    size = size_for(aspect, resolution)
    sides = parse_size(size)
    assert sides is not None and size_problem(*sides) is None
    w, h = (int(x) for x in aspect.split(":"))
    assert abs(sides[0] / sides[1] - w / h) / (w / h) < 0.02


def test_known_sizes() -> None:
    assert size_for("1:1", "standard") == "1024x1024"
    assert size_for("16:9", "large") == "2048x1152"
    assert size_for("16:9", "4k") == "3840x2160"
    assert size_for("1:1", "4k") == "2880x2880"
    assert size_for("3:1", "4k") == "3840x1280"


def test_size_problems() -> None:
    assert str(size_problem(1000, 1000)) == "both sides must be divisible by 16"
    assert str(size_problem(4000, 1600)) == "the longest side may be at most 3840"
    assert str(size_problem(3200, 1024)) == "the aspect ratio must be between 1:3 and 3:1"
    assert size_problem(512, 512) is not None and size_problem(3840, 2176) is not None


def test_nearest_standard() -> None:
    assert nearest_standard(1360, 768) == "1536x1024"
    assert nearest_standard(768, 1360) == "1024x1536"
    assert nearest_standard(1168, 880) == "1536x1024"  # 4:3 is nearer 3:2 than 1:1 on a log scale
    assert nearest_standard(1024, 912) == "1024x1024"
    assert choose_size("1:1", "large", any_size=False).size == "1024x1024"


def test_options_accept_valid_arbitrary_sizes_only() -> None:
    assert ImageOptions(size="2048x1152").validate().size == "2048x1152"
    with pytest.raises(InvalidInput, match="divisible by 16"):
        ImageOptions(size="1000x1000").validate()
    with pytest.raises(InvalidInput, match="WIDTHxHEIGHT"):
        ImageOptions(size="big").validate()


def test_output_tokens_scale_with_pixel_area() -> None:
    assert output_tokens("medium", "1536x1024") == 1568  # published figure kept
    assert output_tokens("high", "2048x1152") == 9360  # 4160 x 2.25
    assert output_tokens("low", "1360x768") == 272 * 1360 * 768 // (1024 * 1024) + 1  # rounded up
    assert output_tokens("high", "auto") == 6240


def test_capabilities_match_snapshots_and_default() -> None:
    caps = capabilities_of("gpt-image-2-2026-04-21", any_size_models=("gpt-image-2",), fidelity_models=())
    assert caps.any_size and not caps.fidelity
    assert capabilities_of(None, any_size_models=("default",), fidelity_models=()).any_size
    assert not capabilities_of("gpt-image-1-mini", any_size_models=("gpt-image-1",), fidelity_models=()).any_size
