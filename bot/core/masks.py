"""Checking an inpainting mask against the image it applies to; Pillow work, so callers run it in a thread."""

from __future__ import annotations

import asyncio
import io
import warnings

from PIL import Image, UnidentifiedImageError

from bot.core.errors import InvalidInput
from bot.core.i18n import Text, tr
from bot.core.images import MAX_PIXELS, MAX_SIDE, MAX_UPLOAD_BYTES, sniff
from bot.core.models import InputImage


def check_mask(mask: bytes, image: bytes) -> InputImage:
    """The mask as a PNG the size the image is sent at, or InvalidInput saying what is wrong with it.

    Its transparent pixels mark where to repaint, so it needs an alpha channel with some transparency, and it must
    be exactly the image's size (OpenAI rejects anything else, after the member has waited).
    """
    if len(mask) > MAX_UPLOAD_BYTES:
        raise InvalidInput(tr("The mask is larger than 20 MB; please attach a smaller one."))
    if sniff(mask) != "PNG":
        raise InvalidInput(tr("The mask must be a PNG whose transparent pixels mark where to repaint."))
    picture = _open(mask, "mask")
    if not (picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info):
        raise InvalidInput(tr("The mask has no transparency (alpha channel). Make the areas to repaint "
                              "transparent and save it as PNG."))
    rgba = picture.convert("RGBA")
    lowest, _ = rgba.getchannel("A").getextrema()
    if lowest == 255:
        raise InvalidInput(tr("The mask has no transparent pixels, so nothing would be repainted. Make the "
                              "areas to repaint transparent."))
    width, height = _open(image, "image", load=False).size
    if rgba.size != (width, height):
        raise InvalidInput(tr("The mask is {mask_width}×{mask_height} but the image is {width}×{height}; "
                              "they must be the same size.", mask_width=rgba.width, mask_height=rgba.height,
                              width=width, height=height))
    # The image is sent scaled down to MAX_SIDE (bot.core.images.normalise): the mask must follow it exactly.
    rgba.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    return InputImage(out.getvalue(), "image/png")


async def prepare_mask(mask: bytes, image: bytes) -> InputImage:
    return await asyncio.to_thread(check_mask, mask, image)


def _open(data: bytes, what: str, *, load: bool = True) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.width * picture.height > MAX_PIXELS:
                raise InvalidInput(_too_many_pixels(what))
            if load:
                picture.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidInput(_too_many_pixels(what)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(tr("The mask file is damaged or not a real image.") if what == "mask" else
                           tr("The image file is damaged or not a real image.")) from exc
    return picture


def _too_many_pixels(what: str) -> Text:
    if what == "mask":
        return tr("The mask has too many pixels; please send one under 40 megapixels.")
    return tr("The image has too many pixels; please send one under 40 megapixels.")
