"""Image options as the commands offer them, validated before anything is paid for."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bot.core.errors import InvalidInput
from bot.core.i18n import tr, tr_n
from bot.core.sizes import parse_size, size_problem

SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
QUALITIES = ("auto", "low", "medium", "high")
BACKGROUNDS = ("auto", "opaque", "transparent")
FORMATS = ("png", "jpeg", "webp")
FIDELITIES = ("low", "high")
# OpenAI's limit for a Responses text input is far higher; Discord's own option cap is 6000.
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class ImageOptions:
    size: str = "auto"
    quality: str = "auto"
    background: str = "auto"
    format: str = "png"
    compression: int | None = None
    fidelity: str | None = None  # the tool's input_fidelity; None leaves it out (models without it refuse it)

    def validate(self) -> ImageOptions:
        """Return self, or raise InvalidInput naming the option and what to pick instead."""
        _check_size(self.size)
        _choice("quality", self.quality, QUALITIES)
        _choice("background", self.background, BACKGROUNDS)
        _choice("format", self.format, FORMATS)
        if self.background == "transparent" and self.format == "jpeg":
            raise InvalidInput(tr("A transparent background needs format png or webp (JPEG has no transparency)."))
        if self.compression is not None:
            if self.format == "png":
                raise InvalidInput(tr("compression only applies to jpeg and webp; pick one of those or leave it out."))
            if not 0 <= self.compression <= 100:
                raise InvalidInput(tr("compression must be from 0 to 100."))
        if self.fidelity is not None:
            _choice("fidelity", self.fidelity, FIDELITIES)
        return self

    def tool_fields(self) -> dict[str, Any]:
        """The image_generation tool's fields for these options."""
        fields: dict[str, Any] = {
            "size": self.size,
            "quality": self.quality,
            "background": self.background,
            "output_format": self.format,
        }
        if self.compression is not None:
            fields["output_compression"] = self.compression
        if self.fidelity is not None:
            fields["input_fidelity"] = self.fidelity
        return fields

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImageOptions:
        return cls(**json.loads(text))


def check_prompt(text: str, *, what: str = "prompt") -> str:
    """Return the prompt stripped, or raise InvalidInput when it is empty or too long."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(tr("The prompt is empty. Describe what you want to see.") if what == "prompt" else
                           tr("The instruction is empty. Describe what should change."))
    if len(stripped) > MAX_PROMPT_CHARS:
        raise InvalidInput(tr_n("The prompt is {count} character; the limit is {limit}.",
                                "The prompt is {count} characters; the limit is {limit}.",
                                len(stripped), limit=MAX_PROMPT_CHARS)
                           if what == "prompt" else
                           tr_n("The instruction is {count} character; the limit is {limit}.",
                                "The instruction is {count} characters; the limit is {limit}.",
                                len(stripped), limit=MAX_PROMPT_CHARS))
    return stripped


def _check_size(size: str) -> None:
    """A standard size, or an arbitrary one within the image tool's limits (see bot.core.sizes)."""
    if size in SIZES:
        return
    sides = parse_size(size)
    if sides is None:
        raise InvalidInput(tr("size must be one of {allowed} or WIDTHxHEIGHT; got {value}.",
                              allowed=", ".join(SIZES), value=repr(size)))
    if (problem := size_problem(*sides)) is not None:
        raise InvalidInput(tr("size {size} can't be made: {problem}.", size=size, problem=problem))


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(tr("{option} must be one of {allowed}; got {value}.", option=name,
                              allowed=", ".join(allowed), value=repr(value)))
