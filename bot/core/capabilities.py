"""What the configured image model can do, from configuration (models change faster than releases)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The name used in the capability lists for OpenAI's default image model (IMAGE_MODEL unset).
DEFAULT_IMAGE_MODEL_NAME = "default"


@dataclass(frozen=True)
class ImageCapabilities:
    any_size: bool  # arbitrary WIDTHxHEIGHT; else only 1024x1024, 1536x1024, 1024x1536 and auto
    fidelity: bool  # the tool's input_fidelity


def listed(image_model: str | None, models: tuple[str, ...]) -> bool:
    """True when the model, or the model it is a dated snapshot of (gpt-image-2-2026-04-21), is in `models`."""
    name = image_model or DEFAULT_IMAGE_MODEL_NAME
    base = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", name)
    return name in models or base in models


def capabilities_of(
    image_model: str | None, *, any_size_models: tuple[str, ...], fidelity_models: tuple[str, ...]
) -> ImageCapabilities:
    return ImageCapabilities(
        any_size=listed(image_model, any_size_models), fidelity=listed(image_model, fidelity_models)
    )
