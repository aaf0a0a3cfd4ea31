"""Asking OpenAI to delete stored responses (for /forget); no Discord, no database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import openai

log = logging.getLogger(__name__)

# A few at a time: fast enough for a long chain, gentle on the rate limit (the SDK's retries are off).
DELETE_CONCURRENCY = 4


async def delete_stored_responses(
    client: openai.AsyncOpenAI, ids: Iterable[str], *, concurrency: int = DELETE_CONCURRENCY
) -> tuple[int, int]:
    """Delete each stored response; return (deleted, failed). A 404 counts as deleted: it is already gone.

    Never raises (except on cancellation): local data is deleted already, and a failure here only means OpenAI
    keeps the response until its own 30-day expiry.
    """
    gate = asyncio.Semaphore(concurrency)

    async def delete(response_id: str) -> bool:
        async with gate:
            return await _delete_one(client, response_id)

    results = await asyncio.gather(*(delete(i) for i in dict.fromkeys(ids)))
    deleted = sum(results)
    return deleted, len(results) - deleted


async def _delete_one(client: openai.AsyncOpenAI, response_id: str) -> bool:
    try:
        await client.responses.delete(response_id)
    except openai.NotFoundError:
        return True  # expired or deleted earlier
    except Exception as exc:  # any failure is reported as a count, never raised
        log.warning("could not delete OpenAI response %s: %s", response_id, type(exc).__name__)
        return False
    return True
