"""Money: prices per million tokens, a job's actual cost from its usage, and an estimate before it runs.

Amounts are exact integer micro-dollars so budget sums never drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.core.options import ImageOptions
from bot.core.sizes import parse_size
from bot.core.usage import Usage

MICROS = 1_000_000
PER_MILLION = Decimal(1_000_000)

# Image output tokens per image (OpenAI's image-generation guide: low / medium / high at 1024², 1024×1536, 1536×1024).
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
PARTIAL_IMAGE_TOKENS = 100  # each partial image costs this many extra image output tokens
INPUT_IMAGE_TOKENS = 1_500  # a generous allowance for one input image (a previous result or an upload)
# The mainline model reads the prompt (and, when continuing, the earlier turns) and writes a revised prompt.
MAINLINE_INPUT_ALLOWANCE = 4_000
MAINLINE_OUTPUT_ALLOWANCE = 1_000


@dataclass(frozen=True)
class TextPrices:
    input: Decimal
    output: Decimal


@dataclass(frozen=True)
class ImagePrices:
    text_input: Decimal
    image_input: Decimal
    output: Decimal


# Dollars per million tokens. Defaults follow OpenAI's published rates for small mainline models and for
# GPT Image models (text in $5, image in $10, image out $40); override them with PRICES_FILE.
DEFAULT_TEXT = TextPrices(Decimal("0.25"), Decimal("2.00"))
DEFAULT_IMAGE = ImagePrices(Decimal("5.00"), Decimal("10.00"), Decimal("40.00"))


@dataclass(frozen=True)
class PriceTable:
    text: dict[str, TextPrices] = field(default_factory=dict)
    image: dict[str, ImagePrices] = field(default_factory=dict)
    default_text: TextPrices = DEFAULT_TEXT
    default_image: ImagePrices = DEFAULT_IMAGE

    def text_prices(self, model: str) -> TextPrices:
        return self.text.get(model, self.default_text)

    def image_prices(self, model: str | None) -> ImagePrices:
        return self.image.get(model or "default", self.default_image)

    def cost(self, usage: Usage, *, model: str, image_model: str | None) -> int:
        """What one response cost, from its real usage."""
        text = self.text_prices(model)
        image = self.image_prices(image_model)
        # OpenAI reports image-tool input as one number; price it all as image input (the dearer rate).
        dollars = (
            usage.input_tokens * text.input
            + usage.output_tokens * text.output
            + usage.image_input_tokens * image.image_input
            + usage.image_output_tokens * image.output
        ) / PER_MILLION
        return _micros(dollars)

    def delivered(
        self, usage: Usage, *, size: str | None, quality: str | None, partial_images: int, model: str,
        image_model: str | None,
    ) -> int:
        """A delivered image's cost: its usage, but never less than the table's price of the image itself.

        Real responses may omit `tool_usage` or report it in part; the image was made and billed all the same.
        Size and quality come from OpenAI's image item; unknown ones are priced like the estimate (the dearest).
        """
        floor = image_output_tokens(quality, size) + partial_images * PARTIAL_IMAGE_TOKENS
        if usage.image_output_tokens >= floor:
            return self.cost(usage, model=model, image_model=image_model)
        raised = Usage(usage.input_tokens, usage.output_tokens, usage.image_input_tokens, floor)
        return self.cost(raised, model=model, image_model=image_model)

    def produced(
        self, options: ImageOptions, *, partials_seen: int, input_images: int, model: str, image_model: str | None
    ) -> int:
        """What a generation that stopped early (cancelled, failed, cut off) is charged when OpenAI said nothing.

        Once the stream started, OpenAI has read the prompt and written some text: the mainline allowance and the
        input images are charged. Once a preview arrived the image was being drawn, and OpenAI usually bills the
        whole of it: the image's output tokens and the previews seen are charged too.
        """
        image_tokens = 0
        if partials_seen:
            image_tokens = image_output_tokens(options.quality, options.size) + partials_seen * PARTIAL_IMAGE_TOKENS
        usage = Usage(
            input_tokens=MAINLINE_INPUT_ALLOWANCE,
            output_tokens=MAINLINE_OUTPUT_ALLOWANCE,
            image_input_tokens=input_images * INPUT_IMAGE_TOKENS + 200,
            image_output_tokens=image_tokens,
        )
        return self.cost(usage, model=model, image_model=image_model)

    def estimate(
        self, options: ImageOptions, *, partial_images: int, input_images: int, model: str, image_model: str | None
    ) -> int:
        """A deliberately generous estimate, held against budgets until the real cost is known."""
        usage = Usage(
            input_tokens=MAINLINE_INPUT_ALLOWANCE,
            output_tokens=MAINLINE_OUTPUT_ALLOWANCE,
            image_input_tokens=input_images * INPUT_IMAGE_TOKENS + 200,
            image_output_tokens=image_output_tokens(options.quality, options.size)
            + partial_images * PARTIAL_IMAGE_TOKENS,
        )
        return self.cost(usage, model=model, image_model=image_model)

    @classmethod
    def from_json(cls, text: str) -> PriceTable:
        """`{"text": {"model": {"input": 0.25, "output": 2}}, "image": {"default": {...}, "gpt-image-2": {...}}}`."""
        data: dict[str, Any] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        texts = {n: TextPrices(Decimal(v["input"]), Decimal(v["output"])) for n, v in data.get("text", {}).items()}
        images = {
            name: ImagePrices(Decimal(v["text_input"]), Decimal(v["image_input"]), Decimal(v["output"]))
            for name, v in data.get("image", {}).items()
        }
        return cls(
            text=texts,
            image=images,
            default_text=texts.get("default", DEFAULT_TEXT),
            default_image=images.get("default", DEFAULT_IMAGE),
        )

    @classmethod
    def load(cls, path: str | None) -> PriceTable:
        return cls() if path is None else cls.from_json(Path(path).read_text(encoding="utf-8"))


def image_output_tokens(quality: str | None, size: str | None) -> int:
    """The table's output tokens for one image. Unknown or auto quality counts as the dearest; a standard size has
    its published count; any other WIDTHxHEIGHT scales the 1024x1024 count by pixel area, rounded up (1024x1024 has
    the highest tokens per pixel of the published sizes, so the scaled figure errs high); auto is the largest."""
    known = quality if quality in OUTPUT_TOKENS else "high"  # auto may pick high
    table = OUTPUT_TOKENS[known]
    if size in table:
        return table[size]
    sides = parse_size(size) if size else None
    if sides is None:
        return max(table.values())
    return -(-table["1024x1024"] * sides[0] * sides[1] // (1024 * 1024))


def _micros(dollars: Decimal) -> int:
    # Round up: a budget should never be under-charged by rounding.
    return int((dollars * MICROS).to_integral_value(rounding="ROUND_CEILING"))


def format_usd(micros: int) -> str:
    """$0.042, $1.20, $12.00: cents for whole amounts, a tenth of a cent for small ones."""
    dollars = micros / MICROS
    if micros and abs(dollars) < 1:
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"
