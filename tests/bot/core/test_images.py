"""Uploaded images are checked by their bytes and normalised before they reach OpenAI."""

import asyncio
import io
import struct
import threading
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from bot.core.errors import InvalidInput
from bot.core.images import MAX_SIDE, InputDecoder, normalise, prepare_input_image, sniff
from bot.core.models import InputImage


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (the shape of a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WEBP"), ("GIF", "GIF")])
def test_sniff_by_bytes(fmt: str, name: str) -> None:
    assert sniff(encode(Image.new("RGB", (4, 4), "red"), fmt)) == name


def test_not_an_image_named_png_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="isn't a PNG"):
        normalise(b"<html>definitely not a png</html>")


def test_truncated_image_is_rejected() -> None:
    data = encode(Image.new("RGB", (64, 64), "red"), "PNG")
    with pytest.raises(InvalidInput, match="damaged"):
        normalise(data[: len(data) // 2])


def test_large_image_is_downscaled_and_keeps_colour() -> None:
    data = encode(Image.new("RGB", (3000, 1500), (10, 200, 30)), "PNG")
    result = normalise(data)
    image = Image.open(io.BytesIO(result.data))
    assert result.mime == "image/jpeg"
    assert max(image.size) == MAX_SIDE and image.size == (2048, 1024)
    r, g, b = image.getpixel((100, 100))  # type: ignore[misc]
    assert abs(r - 10) < 8 and abs(g - 200) < 8 and abs(b - 30) < 8


def test_transparency_is_kept_as_png() -> None:
    data = encode(Image.new("RGBA", (32, 32), (255, 0, 0, 0)), "PNG")
    result = normalise(data)
    assert result.mime == "image/png"
    assert Image.open(io.BytesIO(result.data)).getpixel((1, 1))[3] == 0  # type: ignore[index]


def test_gif_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((0, 0, 255), (255, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    image = Image.open(io.BytesIO(normalise(out.getvalue()).data)).convert("RGB")
    r, _, b = image.getpixel((8, 8))  # type: ignore[misc]
    assert b > 200 and r < 60


def test_decompression_bomb_is_rejected_before_decoding() -> None:
    bomb = png_header_claiming(50_000, 50_000)
    with pytest.raises(InvalidInput, match="too many pixels"):
        normalise(bomb)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        result = normalise(data)
    except InvalidInput:
        return
    assert result.mime in ("image/png", "image/jpeg")


async def test_runs_off_the_event_loop() -> None:
    data = encode(Image.new("RGB", (8, 8), "red"), "PNG")
    assert (await prepare_input_image(data)).mime == "image/jpeg"


def test_pixel_cap_is_four_times_what_openai_keeps() -> None:
    just_over = encode(Image.new("RGB", (4097, 4096), "navy"), "PNG")  # a few kB, 16.8 MP
    with pytest.raises(InvalidInput, match="too many pixels"):
        normalise(just_over)
    photo = encode(Image.new("RGB", (4032, 3024), (20, 120, 40)), "JPEG")  # a 12 MP phone photo
    with Image.open(io.BytesIO(normalise(photo).data)) as result:
        assert max(result.size) == MAX_SIDE and result.getpixel((10, 10))[1] > 100  # type: ignore[index]


def test_jpeg_is_decoded_at_reduced_size(monkeypatch: pytest.MonkeyPatch) -> None:
    drafts: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        result = original(self, mode, size)
        drafts.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    normalise(encode(Image.new("RGB", (4096, 4096), "teal"), "JPEG"))
    assert drafts == [(2048, 2048)]  # decoded at half size: a quarter of the pixels, never the full 16 MP


async def test_decoder_runs_at_most_its_limit_at_once() -> None:
    lock = threading.Lock()
    running, peak = 0, 0
    release = threading.Event()

    def slow_decode(data: bytes) -> InputImage:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1
        return InputImage(data, "image/png")

    decoder = InputDecoder(2, decode=slow_decode)
    tasks = [asyncio.create_task(decoder.prepare(bytes([i]))) for i in range(6)]
    while True:  # wait (on the worker threads, not a clock) until the first two are inside
        with lock:
            if running == 2:
                break
        await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert peak == 2 and [r.data for r in results] == [bytes([i]) for i in range(6)]


def test_uploads_over_20_mb_are_refused_by_their_size() -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(png, "PNG")
    cap = 20 * 1024 * 1024  # the README's 20 MB (binary megabytes, as Discord counts them)
    at_cap = png.getvalue() + b"\0" * (cap - len(png.getvalue()))  # trailing bytes after IEND: still a PNG
    assert normalise(at_cap).data  # exactly 20 MB is accepted
    with pytest.raises(InvalidInput, match="the limit is 20 MB"):
        normalise(at_cap + b"\0")
