"""The headers that travel with a failed message: why it failed, how often, since when, from where.

A retried message carries them to its next attempt; a dead-lettered one carries them into
`calbridge.dlq`, where `calbridge dlq` shows them. Values are short strings and integers, never
event content (the envelope holds none either).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from calbridge.bus.names import CALENDAR_HEADER

__all__ = [
    "ATTEMPTS_HEADER",
    "CAUSE_HEADER",
    "ERROR_HEADER",
    "FIRST_FAILURE_HEADER",
    "LAST_FAILURE_HEADER",
    "QUEUE_HEADER",
    "Cause",
    "describe_error",
    "failure_headers",
    "failures_so_far",
]

ERROR_HEADER = "x-calbridge-error"
ATTEMPTS_HEADER = "x-calbridge-attempts"
FIRST_FAILURE_HEADER = "x-calbridge-first-failure"
LAST_FAILURE_HEADER = "x-calbridge-last-failure"
QUEUE_HEADER = "x-calbridge-queue"
CAUSE_HEADER = "x-calbridge-cause"

_MAX_REASON = 500


class Cause(StrEnum):
    """Why a message was dead-lettered."""

    MALFORMED = "malformed"  # could not be decoded
    REJECTED = "rejected"  # the handler raised Reject
    EXHAUSTED = "exhausted"  # failed on every attempt of the retry schedule


def describe_error(error: BaseException) -> str:
    """A bounded one-line reason: the error's class and message."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(text.split())[:_MAX_REASON]


def failures_so_far(headers: Mapping[str, object]) -> int:
    """How many attempts of this message already failed (0 for a fresh one)."""
    value = headers.get(ATTEMPTS_HEADER, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def failure_headers(
    previous: Mapping[str, object],
    *,
    reason: str,
    failures: int,
    now: datetime,
    queue: str,
    calendar: str | None,
) -> dict[str, str | int]:
    """Headers after one more failure: the first failure time is kept, the rest is updated."""
    first = previous.get(FIRST_FAILURE_HEADER)
    headers: dict[str, str | int] = {
        ERROR_HEADER: reason[:_MAX_REASON],
        ATTEMPTS_HEADER: failures,
        FIRST_FAILURE_HEADER: first if isinstance(first, str) else now.isoformat(),
        LAST_FAILURE_HEADER: now.isoformat(),
        QUEUE_HEADER: queue,
    }
    if calendar is not None:
        headers[CALENDAR_HEADER] = calendar
    return headers
