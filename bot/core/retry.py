"""When to try a failed OpenAI request again: only before any image could have been billed."""

from __future__ import annotations

import random
from dataclasses import dataclass

import openai

from bot.core.errors import ImageError, RateLimited, StreamBroken, Upstream

MAX_RETRY_AFTER = 60.0  # longer waits are reported to the member instead of silently holding the job


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total tries of one request, the first included
    base_delay: float = 1.0

    def delay(self, exc: openai.OpenAIError, error: ImageError, attempt: int) -> float | None:
        """Seconds to wait before the next try, or None when this failure must not be retried.

        Called only for failures of `responses.create` itself, i.e. before the stream started:
        nothing was generated yet, so a retry cannot bill a second image.
        """
        if attempt + 1 >= self.attempts:
            return None
        if isinstance(error, RateLimited):
            hinted = retry_after(exc)
            if hinted is not None:
                return hinted if hinted <= MAX_RETRY_AFTER else None
        elif not (isinstance(error, StreamBroken) or _is_server_error(exc, error)):
            return None  # moderation, quota, bad input, missing model: the same request fails the same way
        # Full jitter keeps many waiting jobs from retrying in lockstep.
        return float(self.base_delay * 2.0**attempt * random.uniform(0.5, 1.0))


def retry_after(exc: openai.OpenAIError) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def _is_server_error(exc: openai.OpenAIError, error: ImageError) -> bool:
    status = getattr(exc, "status_code", None)
    return isinstance(error, Upstream) and isinstance(status, int) and status >= 500
