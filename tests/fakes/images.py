"""Tiny Pillow helpers shared by the fakes and the tests: make solid-colour images, decode them back."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

from PIL import Image, ImageChops

Color = tuple[int, int, int] | tuple[int, int, int, int]

# Pillow's format names for the OpenAI `output_format` values we support.
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}


def make_image(color: Color, size: tuple[int, int], fmt: str = "png", *, quality: int = 90) -> bytes:
    """Encode a solid `color` image of `size` pixels as `fmt` (png, jpeg or webp).

    A 4-tuple colour keeps its alpha for png/webp; JPEG has no alpha, so it is dropped there.
    `quality` only matters for the lossy formats (it mirrors OpenAI's `output_compression`).
    """
    pil_format = _PIL_FORMATS.get(fmt.lower())
    if pil_format is None:
        raise ValueError(f"unsupported image format {fmt!r}")
    rgba = len(color) == 4 and pil_format != "JPEG"
    image = Image.new("RGBA" if rgba else "RGB", size, color if rgba else color[:3])
    buf = io.BytesIO()
    if pil_format == "PNG":
        image.save(buf, "PNG")
    else:
        image.save(buf, pil_format, quality=quality)
    return buf.getvalue()


@dataclass(frozen=True)
class DecodedImage:
    format: str  # Pillow's name: "PNG", "JPEG", "WEBP", "GIF"
    size: tuple[int, int]
    mode: str
    center: tuple[int, ...]  # RGB, or RGBA when the image carries alpha


def decode(data: bytes) -> DecodedImage:
    """Decode image bytes (raises if they are not a readable image)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        converted = image.convert("RGBA" if has_alpha else "RGB")
        pixel = converted.getpixel((image.width // 2, image.height // 2))
        assert isinstance(pixel, tuple)
        return DecodedImage(
            format=image.format or "", size=image.size, mode=image.mode, center=tuple(int(c) for c in pixel)
        )


def close_color(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    """Whether two colours match channel by channel within `tol` (JPEG/WebP are lossy)."""
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# Noise textures, so benchmark images are as large as real ones (solid colours compress to a few KB).
_NOISE_CACHE: dict[tuple[tuple[int, int], int], bytes] = {}
_FIT_CACHE: dict[tuple[tuple[int, int], str, int, int], tuple[int, int]] = {}


def _noise(size: tuple[int, int], bits: int) -> bytes:
    """Random RGB bytes keeping only the low `bits` bits (less entropy compresses better); cached per size."""
    key = (size, bits)
    if key not in _NOISE_CACHE:
        mask = (1 << bits) - 1
        table = bytes(b & mask for b in range(256))
        _NOISE_CACHE[key] = os.urandom(size[0] * size[1] * 3).translate(table)
    return _NOISE_CACHE[key]


def _textured(color: Color, size: tuple[int, int], bits: int, rows: int, fmt: str, quality: int) -> bytes:
    rgba = len(color) == 4 and _PIL_FORMATS[fmt.lower()] != "JPEG"
    base = tuple(max(0, c - (1 << bits) // 2) for c in color[:3])
    image = Image.new("RGB", size, base)
    if rows:
        noise = Image.frombytes("RGB", (size[0], rows), _noise(size, bits)[: size[0] * rows * 3])
        image.paste(ImageChops.add(image.crop((0, 0, size[0], rows)), noise), (0, 0))
    if rgba:
        image.putalpha(color[3])
    buf = io.BytesIO()
    if _PIL_FORMATS[fmt.lower()] == "PNG":
        image.save(buf, "PNG", compress_level=1)
    else:
        image.save(buf, _PIL_FORMATS[fmt.lower()], quality=quality)
    return buf.getvalue()


def make_noise_image(
    color: Color, size: tuple[int, int], fmt: str, target_bytes: int, *, quality: int = 90
) -> bytes:
    """Like `make_image`, but textured with noise so the encoding is about `target_bytes` long (within ~10%).

    The noise strength and the share of noisy rows are calibrated once per size, format and target
    (a few encodes); later colours cost one encode each.
    """
    if _PIL_FORMATS.get(fmt.lower()) is None:
        raise ValueError(f"unsupported image format {fmt!r}")
    key = (size, fmt.lower(), quality, target_bytes)
    if key not in _FIT_CACHE:
        raw = size[0] * size[1] * 3
        bits = min(8, max(1, math.ceil(target_bytes * 8 / raw)))
        rows = size[1]
        for _ in range(3):
            got = len(_textured(color, size, bits, rows, fmt, quality))
            if abs(got - target_bytes) <= target_bytes * 0.05:
                break
            if got < target_bytes and rows == size[1]:
                if bits == 8:
                    break  # as large as noise gets
                bits += 1
                continue
            rows = max(1, min(size[1], round(rows * target_bytes / max(got, 1))))
        _FIT_CACHE[key] = (bits, rows)
    bits, rows = _FIT_CACHE[key]
    return _textured(color, size, bits, rows, fmt, quality)
