"""Tiny Pillow helpers shared by the fakes and the tests: make solid-colour images, decode them back."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

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
