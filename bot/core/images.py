"""Checking images members upload, and shrinking finished ones to fit Discord; Pillow work runs in a thread."""

from __future__ import annotations

import asyncio
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.core.errors import InvalidInput, Upstream
from bot.core.i18n import Text, tr
from bot.core.models import InputImage

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SIDE = 2048  # OpenAI scales every input image to fit 2048x2048; sending more is wasted bandwidth
# Four times what OpenAI keeps (a 2048x2048 square): a 12 MP phone photo passes, while a small, highly compressed
# PNG can no longer make the bot decode 40 MP (160 MB of pixels and seconds of CPU) for nothing.
MAX_PIXELS = 4 * MAX_SIDE * MAX_SIDE
# Decodes at once, whatever MAX_CONCURRENT_JOBS is: each can hold up to ~64 MB of pixels and a worker thread
# that previews and finals also need.
DECODE_LIMIT = 2
TOO_MANY_PIXELS = tr("That image has too many pixels; please send one under 16 megapixels.")
MIN_FIT_SIDE = 256  # below this a finished image is a thumbnail, not a result; better to say it can't be sent
FIT_STEP = 0.75  # each downscale keeps 56% of the pixels, so encoded size falls roughly in step
MAX_FIT_ENCODES = 20  # a WebP encode of a 1536×1024 image costs ~0.3 s; cap the worst case at a few seconds

# Cheapest loss first: WebP keeps alpha and beats JPEG at equal quality; JPEG only for opaque images.
_OPAQUE_ATTEMPTS = (("WEBP", 90), ("WEBP", 80), ("WEBP", 70), ("JPEG", 90), ("JPEG", 80))
_ALPHA_ATTEMPTS = (("WEBP", 90), ("WEBP", 80), ("WEBP", 70))
_LABELS = {"WEBP": "WebP", "JPEG": "JPEG"}

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
        megabytes = len(data) // (1024 * 1024)
        raise InvalidInput(tr("That image is {megabytes} MB; the limit is 20 MB.", megabytes=megabytes))
    kind = sniff(data)
    if kind is None:
        raise InvalidInput(tr("That attachment isn't a PNG, JPEG, WebP or GIF image."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            if image.width * image.height > MAX_PIXELS:  # from the header: nothing decoded yet
                raise InvalidInput(TOO_MANY_PIXELS)
            image.seek(0)
            # Before any pixel is decoded: JPEG decodes straight at 1/2, 1/4 or 1/8 size (draft), the others are
            # reduced by whole factors before the final resample (reducing_gap=1: fastest; OpenAI shrinks it again).
            image.thumbnail((MAX_SIDE, MAX_SIDE), reducing_gap=1.0)
            image.load()  # thumbnail() leaves an image that already fits undecoded; damage must show up here
    except InvalidInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidInput(TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(tr("That image file is damaged or not a real image.")) from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if has_alpha:
        image.convert("RGBA").save(out, "PNG", optimize=False)
        return InputImage(out.getvalue(), "image/png")
    image.convert("RGB").save(out, "JPEG", quality=92)
    return InputImage(out.getvalue(), "image/jpeg")


async def prepare_input_image(data: bytes) -> InputImage:
    return await asyncio.to_thread(normalise, data)


class InputDecoder:
    """Decodes uploads in worker threads, at most `limit` at once (the rest wait their turn)."""

    def __init__(self, limit: int = DECODE_LIMIT, decode: Callable[[bytes], InputImage] = normalise) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._decode = decode

    async def prepare(self, data: bytes) -> InputImage:
        async with self._slots:
            return await asyncio.to_thread(self._decode, data)


@dataclass(frozen=True)
class Fitted:
    data: bytes
    format: str  # "png" | "jpeg" | "webp": the format of `data`
    note: Text | None  # None when unchanged; else a sentence telling the member what was done


def fit_for_upload(data: bytes, fmt: str, limit: int) -> Fitted:
    """Make a finished image fit under `limit` bytes, losing as little as possible; `data` as-is when it fits."""
    if len(data) <= limit:
        return Fitted(data, fmt, None)  # the usual case: no decoding at all
    image, alpha = _flatten(_decode_finished(data))
    attempts = _ALPHA_ATTEMPTS if alpha else _OPAQUE_ATTEMPTS
    last_step = _max_steps(max(image.size))
    step, encodes = 0, 0
    while True:
        frame = image if step == 0 else image.resize(_scaled(image.size, step), Image.Resampling.LANCZOS)
        smallest = len(data)
        for pil_format, quality in attempts:
            out = _encode(frame, pil_format, quality)
            encodes += 1
            if len(out) <= limit:
                return Fitted(out, pil_format.lower(), _fit_note(pil_format, frame.size, image.size, limit))
            smallest = min(smallest, len(out))
        if step >= last_step:
            raise Upstream(tr("The image is too large to upload here even after shrinking it."))
        step = _next_step(step, smallest, limit, last_step)
        if encodes + 2 * len(attempts) > MAX_FIT_ENCODES:
            step = last_step  # no budget for two more sizes: make the last try the smallest one


async def fit_for_upload_async(data: bytes, fmt: str, limit: int) -> Fitted:
    if len(data) <= limit:
        return Fitted(data, fmt, None)  # the usual case: nothing to do, so no trip to a worker thread
    return await asyncio.to_thread(fit_for_upload, data, fmt, limit)


def _decode_finished(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Upstream("The finished image could not be read, so it can't be uploaded.", detail=str(exc)) from exc
    return image


def _flatten(image: Image.Image) -> tuple[Image.Image, bool]:
    """RGBA when some pixel is see-through, else RGB (so JPEG is allowed and WebP skips an alpha plane)."""
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        opaque = rgba.getchannel("A").histogram()[255]
        if opaque < rgba.width * rgba.height:
            return rgba, True
    return image.convert("RGB"), False


def _max_steps(longest: int) -> int:
    """How many FIT_STEP downscales keep the longest side at MIN_FIT_SIDE or more."""
    steps = 0
    while longest * FIT_STEP ** (steps + 1) >= MIN_FIT_SIDE:
        steps += 1
    return steps


def _next_step(step: int, smallest: int, limit: int, last_step: int) -> int:
    """Skip sizes that can't fit: encoded size tracks pixel count, so the smallest miss predicts the step needed."""
    needed = math.ceil(math.log(max(limit, 1) / smallest) / math.log(FIT_STEP**2))
    return min(last_step, step + max(1, needed))


def _scaled(size: tuple[int, int], step: int) -> tuple[int, int]:
    factor = FIT_STEP**step
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def _encode(image: Image.Image, pil_format: str, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, pil_format, quality=quality)
    return out.getvalue()


def _fit_note(pil_format: str, size: tuple[int, int], original: tuple[int, int], limit: int) -> Text:
    label, limit_text = _LABELS[pil_format], _megabytes(limit)
    if size == original:
        return tr("Re-encoded as {format} to fit Discord's {limit} upload limit.", format=label, limit=limit_text)
    return tr("Scaled down to {width}×{height} and saved as {format} to fit Discord's {limit} upload limit.",
              width=size[0], height=size[1], format=label, limit=limit_text)


def _megabytes(limit: int) -> str:
    """10485760 → "10 MB", 8_000_000 → "7.6 MB" (Discord's limits are binary megabytes)."""
    text = f"{limit / (1024 * 1024):.1f}"
    return f"{text.removesuffix('.0')} MB"
