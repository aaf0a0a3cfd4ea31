"""The options' choices keep their order whatever was imported first (the OpenAI SDK declares the same values)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import typing
import discord, bot.core.errors, bot.core.models
import bot.discord_adapter.buttons, bot.discord_adapter.jobs, bot.discord_adapter.reply, bot.discord_adapter.surface
# Another module (the OpenAI SDK's types, as pydantic evaluates them while parsing events) declares the same values
# in another order. typing caches Unions of Literals by their set of values (in a small LRU cache, hence the
# imports above first), so a Literal-annotated command built now would get that order.
typing.Optional[typing.Literal["transparent", "opaque", "auto"]]
typing.Optional[typing.Literal["high", "medium", "low", "auto"]]
from cogs.images import Images
for command in (Images.draw, Images.edit):
    params = {p.name: p for p in command.parameters}
    names = ("size", "quality", "background", "format")
    print(command.name, *(",".join(c.value for c in params[n].choices) for n in names))
"""


def test_choice_order_does_not_depend_on_import_history() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    expected = "auto,1024x1024,1536x1024,1024x1536 auto,low,medium,high auto,opaque,transparent png,jpeg,webp"
    assert result.stdout.splitlines() == [f"draw {expected}", f"edit {expected}"]
