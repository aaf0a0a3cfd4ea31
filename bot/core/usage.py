"""Token counts OpenAI reports for one response (a leaf module: errors and models both need it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
