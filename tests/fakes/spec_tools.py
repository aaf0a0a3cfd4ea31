"""What both fakes do to a published OpenAPI description before validating against it."""

from __future__ import annotations

from typing import Any


def one_of_to_any_of(node: Any) -> Any:
    """The descriptions' oneOf variants overlap (their discriminators are not JSON Schema), so valid bodies would
    match several variants and fail oneOf; anyOf keeps the checks that matter."""
    if isinstance(node, dict):
        return {("anyOf" if key == "oneOf" else key): one_of_to_any_of(value) for key, value in node.items()}
    if isinstance(node, list):
        return [one_of_to_any_of(value) for value in node]
    return node
