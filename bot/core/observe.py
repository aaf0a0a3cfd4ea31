"""What the job engine tells the outside world about jobs (metrics, log context), without knowing who listens.

The engine calls a `JobObserver` at the points that matter (a job ended with an outcome, OpenAI returned an
error, money was spent) and sets `current_job` while a job runs so every log line of that job can name it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

# Outcomes of a job, as counted by observers (`threadpaint_jobs_total{outcome}`).
DONE = "done"
FAILED = "failed"
BLOCKED = "blocked"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"
OVER_BUDGET = "over_budget"
REFUSED = "refused"  # not admitted: too many jobs in flight, restarting


@dataclass(frozen=True)
class JobTag:
    """Which job a log line belongs to."""

    turn_id: int | None
    interaction_id: int | None = None


# Set by the engine while it admits and runs a job; asyncio tasks created meanwhile inherit it.
current_job: ContextVar[JobTag | None] = ContextVar("threadpaint_current_job", default=None)


class JobObserver(Protocol):
    def job_finished(self, outcome: str) -> None:
        """A job ended (or was refused) with one of the outcomes above."""
        ...

    def openai_error(self, code: str) -> None:
        """OpenAI answered with an error (including ones that are retried); `code` is ImageError.code."""
        ...

    def spent(self, micros: int) -> None:
        """A finished image cost this many micro-dollars."""
        ...


class NullObserver:
    def job_finished(self, outcome: str) -> None:
        pass

    def openai_error(self, code: str) -> None:
        pass

    def spent(self, micros: int) -> None:
        pass
