"""What the job engine needs from storage and from the chat surface (implemented elsewhere)."""

from __future__ import annotations

from typing import Protocol

from bot.core.errors import ImageError
from bot.core.models import ChainRecord, Delivery, NewTurn, Turn, TurnResult
from bot.core.updates import Final, Partial


class Store(Protocol):
    async def get_chain(self, channel_id: int) -> ChainRecord | None: ...

    async def get_head(self, channel_id: int) -> Turn | None: ...

    async def get_turn(self, turn_id: int) -> Turn | None: ...

    async def create_turn(self, turn: NewTurn) -> int: ...

    async def set_reply_message(self, turn_id: int, channel_id: int, message_id: int) -> None: ...

    async def fail_turn(self, turn_id: int, error: str) -> None: ...

    async def complete_turn(
        self, turn_id: int, result: TurnResult, delivery: Delivery, *, owner_id: int, guild_id: int | None
    ) -> None:
        """Record the result and make it the chain's head, in one transaction."""
        ...

    async def close(self) -> None: ...


class Surface(Protocol):
    """How a job talks back to the member (the Discord reply, in production)."""

    async def waiting(self) -> None: ...

    async def preview(self, partial: Partial, expected: int) -> None: ...

    async def deliver(self, final: Final, job_prompt: str) -> Delivery: ...

    async def failed(self, error: ImageError) -> None: ...
