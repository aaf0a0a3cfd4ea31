"""Row shapes shared by both databases: the turns column list and the row-to-model mappers.

Both backends name their columns alike and return rows that index by name (aiosqlite.Row, asyncpg.Record).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core.models import ChainRecord, Turn
from bot.core.options import ImageOptions
from bot.core.usage import Usage

SELECT_TURNS = "SELECT " + (  # noqa: S608 - a constant column list, nothing from users
    "id, chain_id, interaction_id, guild_id, channel_id, user_id, kind, prompt, options, parent_turn_id, "
    "previous_response_id, response_id, image_call_id, revised_prompt, status, error_code, error, "
    "reply_channel_id, reply_message_id, delivery_attempts, input_tokens, output_tokens, image_input_tokens, "
    "image_output_tokens, cost_reserved_micros, cost_micros, created_at, finished_at, variation_group, "
    "variation_index"
) + " FROM turns"
UNFINISHED = ("queued", "running")


def utc_text(moment: datetime) -> str:
    """The stored timestamp format (bot.storage.base.now_text), so text comparison orders by time."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def chain_from_row(row: Any) -> ChainRecord:
    return ChainRecord(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        parent_channel_id=row["parent_channel_id"],
        owner_id=row["owner_id"],
        kind=row["kind"],
        head_turn_id=row["head_turn_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def turn_from_row(row: Any) -> Turn:
    return Turn(
        id=row["id"],
        chain_id=row["chain_id"],
        interaction_id=row["interaction_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        kind=row["kind"],
        prompt=row["prompt"],
        options=ImageOptions.from_json(row["options"]),
        parent_turn_id=row["parent_turn_id"],
        previous_response_id=row["previous_response_id"],
        response_id=row["response_id"],
        image_call_id=row["image_call_id"],
        revised_prompt=row["revised_prompt"],
        status=row["status"],
        error_code=row["error_code"],
        error=row["error"],
        reply_channel_id=row["reply_channel_id"],
        reply_message_id=row["reply_message_id"],
        delivery_attempts=row["delivery_attempts"],
        usage=Usage(row["input_tokens"], row["output_tokens"], row["image_input_tokens"], row["image_output_tokens"]),
        cost_reserved_micros=row["cost_reserved_micros"],
        cost_micros=row["cost_micros"],
        created_at=_time(row["created_at"]),
        finished_at=_time(row["finished_at"]),
        variation_group=row["variation_group"],
        variation_index=row["variation_index"],
    )
