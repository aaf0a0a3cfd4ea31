"""Why something could not be reached, in the words an operator expects on one line."""

from __future__ import annotations

import os


def connection_reason(exc: BaseException) -> str:
    """`Connection refused`, `Name or service not known`, …, rather than asyncio's `Connect call failed (…)`."""
    reason = getattr(exc, "os_error", None) or exc  # aiohttp's connector errors wrap the socket's
    errno = getattr(reason, "errno", None)
    if isinstance(errno, int) and errno > 0:
        return os.strerror(errno)
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
