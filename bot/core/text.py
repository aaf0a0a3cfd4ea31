"""Text the bot shows: thread names and the result caption, within Discord's limits."""

from __future__ import annotations

import re

THREAD_NAME_LIMIT = 100
CAPTION_LIMIT = 4096  # embed description


# Markdown that could turn a member's words into a link, a mention or formatting: [text](url), <@id>, <url>, ...
_MARKDOWN = re.compile(r"([\\*_~`|\[\]()<>#])")
_MASS_MENTION = re.compile(r"@(everyone|here)")


def escape(text: str) -> str:
    """Text a member typed, shown exactly as typed: no masked links, mentions, headings or formatting."""
    return _MASS_MENTION.sub("@\u200b\\1", _MARKDOWN.sub(r"\\\1", text))


def shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def thread_name(prompt: str) -> str:
    """A thread name from the prompt: one line, 1–100 characters."""
    flat = re.sub(r"\s+", " ", prompt).strip()
    return shorten(flat, THREAD_NAME_LIMIT) or "Image"


def caption(
    prompt: str, revised_prompt: str | None, *, label: str = "Prompt", revised_label: str = "Revised prompt"
) -> str:
    """The member's prompt and the model's revised prompt (escaped), together under the embed limit."""
    prompt = escape(prompt)
    revised_prompt = escape(revised_prompt) if revised_prompt else revised_prompt
    head = f"**{label}**\n"
    tail_head = f"\n\n**{revised_label}**\n"
    if not revised_prompt:
        return head + shorten(prompt, CAPTION_LIMIT - len(head))
    budget = CAPTION_LIMIT - len(head) - len(tail_head)
    own = shorten(prompt, max(budget // 2, budget - len(revised_prompt)))
    revised = shorten(revised_prompt, budget - len(own))
    return head + own + tail_head + revised
