"""Checking and normalising images members upload; all Pillow work runs in a worker thread."""

from __future__ import annotations

import asyncio
import io
import warnings

from PIL import Image, UnidentifiedImageError

from bot.core.errors import InvalidInput
from bot.core.models import InputImage

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # far above any real photo, far below a decompression bomb
MAX_SIDE = 2048  # OpenAI scales inputs down to this anyway; sending more is wasted bandwidth

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def sniff(data: bytes) -> str | None:
    """The image format by its bytes (PNG, JPEG, WEBP, GIF), never by name or declared type."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def normalise(data: bytes) -> InputImage:
    """Validate an upload and re-encode it (first frame, longest side capped) as PNG or JPEG."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"That image is {len(data) // (1024 * 1024)} MB; the limit is 20 MB.")
    kind = sniff(data)
    if kind is None:
        raise InvalidInput("That attachment isn't a PNG, JPEG, WebP or GIF image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput("That image has too many pixels; please send one under 40 megapixels.")
            image.seek(0)
            image.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidInput("That image has too many pixels; please send one under 40 megapixels.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("That image file is damaged or not a real image.") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if has_alpha:
        image.convert("RGBA").save(out, "PNG", optimize=False)
        return InputImage(out.getvalue(), "image/png")
    image.convert("RGB").save(out, "JPEG", quality=92)
    return InputImage(out.getvalue(), "image/jpeg")


async def prepare_input_image(data: bytes) -> InputImage:
    return await asyncio.to_thread(normalise, data)
