"""Build the exact `POST /v1/responses` body for one turn."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from bot.core.models import InputImage
from bot.core.options import ImageOptions


@dataclass(frozen=True)
class ModelConfig:
    model: str
    image_model: str | None
    partial_images: int


def build_request(
    config: ModelConfig,
    *,
    prompt: str,
    options: ImageOptions,
    user_id: int,
    previous_response_id: str | None = None,
    input_images: list[InputImage] | None = None,
    moderation: str = "auto",
    partial_images: int | None = None,
    action: str | None = None,
    mask: InputImage | None = None,
    references: list[str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `client.responses.create`, forcing the image_generation tool."""
    tool: dict[str, Any] = {"type": "image_generation", **options.tool_fields()}
    if action is not None:
        # /draw says generate so a /draw inside a thread never edits the previous picture; /edit says edit.
        tool["action"] = action
    if mask is not None:
        tool["input_image_mask"] = {"image_url": data_url(mask)}
    if config.image_model:
        # Unset means OpenAI's current default image model, which survives model retirements.
        tool["model"] = config.image_model
    if moderation != "auto":
        tool["moderation"] = moderation  # "low": a server owner's choice; OpenAI's default is auto
    tool["partial_images"] = config.partial_images if partial_images is None else partial_images
    content: list[dict[str, Any]] = [{"type": "input_text", "text": prompt}]
    for image in input_images or []:
        content.append({"type": "input_image", "image_url": data_url(image), "detail": "auto"})
    body: dict[str, Any] = {
        "model": config.model,
        # Earlier results by their image_generation_call id: no bytes are downloaded or uploaded again.
        "input": [*({"type": "item_reference", "id": ref} for ref in references or []),
                  {"role": "user", "content": content}],
        "tools": [tool],
        "tool_choice": {"type": "image_generation"},
        "store": True,
        "stream": True,
        "safety_identifier": safety_identifier(user_id),
    }
    if previous_response_id:
        body["previous_response_id"] = previous_response_id
    return body


def data_url(image: InputImage) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def safety_identifier(user_id: int) -> str:
    """A stable hash of the member, so OpenAI can act on one abuser without learning who they are."""
    return hashlib.sha256(f"threadpaint:{user_id}".encode()).hexdigest()[:32]
