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
    "THROTTLED_SINCE_HEADER",
    "Cause",
    "backoff_headers",
    "describe_error",
    "failure_headers",
    "failures_so_far",
    "throttled_since",
]

ERROR_HEADER = "x-calbridge-error"
ATTEMPTS_HEADER = "x-calbridge-attempts"
FIRST_FAILURE_HEADER = "x-calbridge-first-failure"
LAST_FAILURE_HEADER = "x-calbridge-last-failure"
QUEUE_HEADER = "x-calbridge-queue"
CAUSE_HEADER = "x-calbridge-cause"
# When a provider first throttled this message's work: back-off is bounded by time, not attempts.
THROTTLED_SINCE_HEADER = "x-calbridge-throttled-since"

_MAX_REASON = 500


class Cause(StrEnum):
    """Why a message was dead-lettered."""

    MALFORMED = "malformed"  # could not be decoded
    REJECTED = "rejected"  # the handler raised Reject
    EXHAUSTED = "exhausted"  # failed on every attempt of the retry schedule
    THROTTLED = "throttled"  # still throttled after `throttle_limit` of backing off


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
    since = throttled_since(previous)
    if since is not None:  # a failure between two throttles does not reset the throttle's clock
        headers[THROTTLED_SINCE_HEADER] = since.isoformat()
    if calendar is not None:
        headers[CALENDAR_HEADER] = calendar
    return headers


def backoff_headers(
    previous: Mapping[str, object], *, reason: str, now: datetime, queue: str, calendar: str | None
) -> dict[str, str | int]:
    """Headers for a message that backs off: its attempts and failure times stay as they were
    (a throttle is not a failure); the first throttle's time is kept, or set now."""
    headers: dict[str, str | int] = {
        key: value
        for key in (ATTEMPTS_HEADER, FIRST_FAILURE_HEADER, LAST_FAILURE_HEADER)
        if isinstance(value := previous.get(key), str | int)
    }
    headers[ERROR_HEADER] = reason[:_MAX_REASON]
    headers[QUEUE_HEADER] = queue
    headers[THROTTLED_SINCE_HEADER] = (throttled_since(previous) or now).isoformat()
    if calendar is not None:
        headers[CALENDAR_HEADER] = calendar
    return headers


def throttled_since(headers: Mapping[str, object]) -> datetime | None:
    """When this message was first throttled (None: never, or a header that does not parse)."""
    value = headers.get(THROTTLED_SINCE_HEADER)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        return None
    return since if since.tzinfo is not None else None
