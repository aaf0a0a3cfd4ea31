"""What the job engine needs from storage and from the chat surface (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.core.budgets import BudgetLimit
from bot.core.errors import ImageError
from bot.core.i18n import Message
from bot.core.models import ChainRecord, Delivery, NewTurn, PendingDelivery, Turn, TurnResult
from bot.core.shards import ShardScope
from bot.core.updates import Final, Partial


class Store(Protocol):
    async def get_chain(self, channel_id: int) -> ChainRecord | None: ...

    async def get_head(self, channel_id: int) -> Turn | None: ...

    async def get_turn(self, turn_id: int) -> Turn | None: ...

    async def create_turn(
        self,
        turn: NewTurn,
        *,
        reserve: int = 0,
        max_in_flight: int | None = None,
        limits: Sequence[BudgetLimit] = (),
    ) -> int | None:
        """Admit a queued turn atomically (raising TooManyJobs or OverBudget); None for a duplicate delivery."""
        ...

    async def create_turns(
        self,
        turns: Sequence[NewTurn],
        *,
        reserve: int = 0,
        max_in_flight: int | None = None,
        limits: Sequence[BudgetLimit] = (),
    ) -> list[int] | None:
        """Admit the variations of one command together: all or none, budgets checked against their total."""
        ...

    async def start_turn(self, turn_id: int, parent_turn_id: int | None, previous_response_id: str | None) -> None: ...

    async def stash_image(self, turn_id: int, image: bytes, fmt: str) -> None:
        """Put a finished image in the outbox as soon as it arrives, before its response has completed."""
        ...

    async def save_result(self, turn_id: int, result: TurnResult, image: bytes | None, fmt: str) -> None:
        """Store the paid-for image in the outbox (None: stash_image already did) and mark the turn delivering,
        in one transaction."""
        ...

    async def complete_turn(self, turn_id: int, delivery: Delivery, *, owner_id: int, guild_id: int | None) -> None:
        """Mark the turn done, make it the chain's head and empty its outbox, in one transaction."""
        ...

    async def fail_turn(self, turn_id: int, code: str, error: str, *, charge: int = 0) -> None:
        """Mark a job failed; its held estimate is released and `charge` (what OpenAI billed) is spent."""
        ...

    async def mark_started(self, turn_id: int) -> None:
        """OpenAI began streaming this job: from now on an interruption is charged, even after a crash."""
        ...

    async def abandon_delivery(self, turn_id: int, error: str, *, keep_image: bool) -> None:
        """Mark a paid-for image that could not be posted as failed; drop it from the outbox unless keep_image."""
        ...

    async def note_delivery_attempt(self, turn_id: int, error: str) -> int: ...

    async def interrupt_unfinished(self, scope: ShardScope | None = None) -> list[Turn]:
        """Mark queued and running turns interrupted (after a crash) and return them; with a scope, only those
        of servers on its shards (other processes own the rest). None means every turn."""
        ...

    async def interrupt_turn(self, turn_id: int, *, charge: int = 0) -> None: ...

    async def pending_deliveries(self, scope: ShardScope | None = None) -> list[PendingDelivery]: ...

    async def close(self) -> None: ...


class Surface(Protocol):
    """How a job talks back to the member (the Discord reply, in production)."""

    async def waiting(self) -> None: ...

    async def queued(self, position: int) -> None: ...

    async def retrying(self, delay: float, attempt: int, attempts: int, error: ImageError) -> None: ...

    async def preview(self, partial: Partial, expected: int) -> None: ...

    async def deliver(self, final: Final, prompt: str, notes: list[Message]) -> Delivery: ...

    async def failed(self, error: ImageError) -> None: ...

    async def interrupted(self, cost: int = 0) -> None: ...

    async def hand_over(self, final: Final, prompt: str, user_id: int) -> bool:
        """Give an image that can't be posted where it belongs to the member another way; False if that failed."""
        ...

    async def fetch_image(self, channel_id: int, message_id: int) -> bytes | None:
        """The image attached to an earlier result message, or None if it is gone."""
        ...
