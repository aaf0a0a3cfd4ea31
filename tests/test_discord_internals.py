"""The discord.py internals tests/harness.py leans on to wait for a button's or modal's callback.

`CommandTracker.wait_any` finds the task discord.py runs a component callback in by its name and its
`interaction` argument. If an upgrade renames either, wait_any would quietly wait for less; this fails instead.
"""

from __future__ import annotations

import inspect

import discord
from discord.ui import modal, view


def test_component_callbacks_run_in_named_tasks_that_take_the_interaction() -> None:
    dispatch = inspect.getsource(view.View._dispatch_item) + inspect.getsource(view.ViewStore.dispatch_dynamic_items)
    assert "name=f'discord-ui-view-dispatch-" in dispatch and "name=f'discord-ui-dynamic-item-" in dispatch
    assert "name=f'discord-ui-modal-dispatch-" in inspect.getsource(modal.Modal._dispatch_submit)
    for coroutine in (view.View._scheduled_task, view.ViewStore.schedule_dynamic_item_call,
                      modal.Modal._scheduled_task):
        assert "interaction" in inspect.signature(coroutine).parameters, coroutine
    assert discord.__version__.startswith("2.")
