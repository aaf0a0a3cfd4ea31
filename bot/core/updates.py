"""Typed updates that one image generation produces, in the order they arrive."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.usage import Usage


@dataclass(frozen=True)
class Started:
    response_id: str


@dataclass(frozen=True)
class Partial:
    index: int  # 0-based, as OpenAI numbers them
    image: bytes
    format: str


@dataclass(frozen=True)
class Final:
    image: bytes
    format: str
    call_id: str
    revised_prompt: str | None
    # What OpenAI says it made (None when it did not say): the price table's floor for the image.
    size: str | None = None
    quality: str | None = None


@dataclass(frozen=True)
class Completed:
    response_id: str
    usage: Usage


Update = Started | Partial | Final | Completed
