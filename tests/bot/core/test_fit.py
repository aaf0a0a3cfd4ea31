"""Finished images are shrunk, cheapest loss first, only when they don't fit Discord's upload limit."""

import io
import os

import pytest
from PIL import Image

from bot.core import images
from bot.core.errors import Upstream
from bot.core.images import MAX_FIT_ENCODES, fit_for_upload, fit_for_upload_async
from tests.fakes.images import decode, make_image

MB = 1024 * 1024


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Random pixels: the worst case for every codec, so the PNG is big."""
    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def big_png() -> bytes:
    return png(noise((1536, 1024)))


def test_under_the_limit_is_returned_untouched() -> None:
    data = make_image((10, 20, 30), (64, 64))
    fitted = fit_for_upload(data, "png", len(data))
    assert fitted.data is data
    assert fitted.format == "png"
    assert fitted.note is None
    garbage = b"not an image at all"
    assert fit_for_upload(garbage, "png", 100).data is garbage  # the hot path never decodes


def test_too_big_png_is_re_encoded_as_webp(big_png: bytes) -> None:
    assert len(big_png) > 4 * MB
    fitted = fit_for_upload(big_png, "png", 1 * MB)
    assert len(fitted.data) <= 1 * MB
    assert fitted.format == "webp"
    decoded = decode(fitted.data)
    assert (decoded.format, decoded.size) == ("WEBP", (1536, 1024))
    assert str(fitted.note) == "Re-encoded as WebP to fit Discord's 1 MB upload limit."


def test_transparency_survives() -> None:
    image = noise((512, 512), "RGBA")
    alpha = Image.new("L", (512, 512), 255)
    alpha.paste(0, (0, 0, 256, 512))  # left half clear, right half solid
    image.putalpha(alpha)
    data = png(image)
    fitted = fit_for_upload(data, "png", len(data) // 2)
    assert fitted.format == "webp"
    with Image.open(io.BytesIO(fitted.data)) as out:
        assert out.mode == "RGBA"
        alpha = out.getchannel("A")
        assert alpha.crop((0, 0, 256, 512)).getextrema() == (0, 0)
        assert alpha.crop((256, 0, 512, 512)).getextrema() == (255, 255)


def test_too_big_even_as_webp_is_scaled_down() -> None:
    data = png(noise((768, 512)))
    fitted = fit_for_upload(data, "png", 100_000)
    assert len(fitted.data) <= 100_000
    width, height = decode(fitted.data).size
    assert 256 <= width < 768
    assert abs(width / height - 1.5) < 0.01
    assert fitted.note is not None
    assert f"Scaled down to {width}×{height} and saved as" in str(fitted.note)


def test_impossible_limit_is_an_upstream_error_within_the_encode_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_encode = images._encode

    def counting(image: Image.Image, pil_format: str, quality: int) -> bytes:
        calls.append(image.size)
        return real_encode(image, pil_format, quality)

    monkeypatch.setattr(images, "_encode", counting)
    with pytest.raises(Upstream, match="too large to upload here even after shrinking"):
        fit_for_upload(png(noise((512, 512))), "png", 100)
    assert len(calls) <= MAX_FIT_ENCODES
    assert min(max(size) for size in calls) >= 256


@pytest.mark.parametrize(("limit", "shown"), [(10 * MB, "10 MB"), (8_000_000, "7.6 MB"), (25 * MB, "25 MB")])
def test_limit_is_shown_in_megabytes(limit: int, shown: str) -> None:
    assert images._megabytes(limit) == shown


async def test_async_wrapper() -> None:
    data = png(noise((256, 256)))
    fitted = await fit_for_upload_async(data, "png", len(data) - 1)
    assert len(fitted.data) < len(data)
    assert fitted.format == "webp"
