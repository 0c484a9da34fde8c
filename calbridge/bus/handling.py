"""What to do with one delivered message: decode it, run the handler, turn the outcome into a verdict.

Both buses call `judge` and then carry out the verdict their own way (RabbitMQ: publish to a delay
queue or the dead-letter exchange with a confirm, then ack; memory: a timer or a list). The policy
pieces it composes, `retry.plan_retry`, `retry.plan_backoff` and `deadletter.failure_headers`,
stay pure.

A `BackOff` (the handler was throttled) is not a failed attempt: it waits in the delay queue
nearest the wait asked for, with the attempt counter untouched, and only the time since the
first throttle (`throttle_limit`) can send it to the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calbridge.bus.base import BackOff, Reject, RetryLater
from calbridge.bus.deadletter import (
    CAUSE_HEADER,
    Cause,
    backoff_headers,
    describe_error,
    failure_headers,
    failures_so_far,
    throttled_since,
)
from calbridge.bus.names import CALENDAR_HEADER
from calbridge.bus.retry import DEFAULT_THROTTLE_LIMIT, GiveUp, RetryAfter, plan_backoff, plan_retry
from calbridge.errors import MalformedMessage
from calbridge.events import ChangeEvent, LifecycleEvent, encode

__all__ = ["DeadLetter", "Delivery", "Done", "Retry", "Verdict", "judge"]


@dataclass(frozen=True, slots=True)
class Delivery:
    body: bytes
    headers: Mapping[str, object]
    queue: str


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float  # one of Settings.retry_delays
    body: bytes
    headers: dict[str, str | int]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    cause: Cause
    body: bytes
    headers: dict[str, str | int]


Verdict = Done | Retry | DeadLetter
Message = ChangeEvent | LifecycleEvent


async def judge(
    delivery: Delivery,
    decode: Callable[[bytes], Any],
    handler: Callable[[Any], Awaitable[None]],
    delays: tuple[float, ...],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    throttle_limit: float = DEFAULT_THROTTLE_LIMIT,
) -> Verdict:
    """Run `handler` on the decoded message and say what should become of the message."""
    calendar = _calendar(delivery.headers)
    try:
        message: Message = decode(delivery.body)
    except MalformedMessage as exc:
        failures = failures_so_far(delivery.headers) + 1
        return _dead(delivery, Cause.MALFORMED, exc.reason, failures, calendar, now())
    try:
        await handler(message)
    except Reject as exc:
        return _dead(delivery, Cause.REJECTED, exc.reason, _failures(delivery, message) + 1, calendar, now())
    except BackOff as exc:
        return _back_off(delivery, exc, delays, throttle_limit, calendar, now())
    except RetryLater as exc:
        return _retry(delivery, message, exc.reason, exc.delay, delays, calendar, now())
    except Exception as exc:  # any other failure is retried on the schedule, by design
        return _retry(delivery, message, describe_error(exc), None, delays, calendar, now())
    return Done()


def _retry(
    delivery: Delivery,
    message: Message,
    reason: str,
    requested: float | None,
    delays: tuple[float, ...],
    calendar: str | None,
    now: datetime,
) -> Retry | DeadLetter:
    failures = _failures(delivery, message) + 1
    step = plan_retry(failures, delays, requested)
    if isinstance(step, GiveUp):
        return _dead(delivery, Cause.EXHAUSTED, reason, failures, calendar, now)
    headers = failure_headers(
        delivery.headers, reason=reason, failures=failures, now=now, queue=delivery.queue, calendar=calendar
    )
    # The change event's own counter follows, so the processor can see which attempt it runs.
    body = encode(message.next_attempt()) if isinstance(message, ChangeEvent) else delivery.body
    return Retry(step.delay, body, headers)


def _back_off(
    delivery: Delivery,
    request: BackOff,
    delays: tuple[float, ...],
    limit: float,
    calendar: str | None,
    now: datetime,
) -> Retry | DeadLetter:
    since = throttled_since(delivery.headers) or now
    step = plan_backoff((now - since).total_seconds(), request.delay or 0.0, delays, limit)
    reason = (
        request.reason if isinstance(step, RetryAfter) else f"throttled for over {limit:g}s: {request.reason}"
    )
    headers = backoff_headers(
        delivery.headers, reason=reason, now=now, queue=delivery.queue, calendar=calendar
    )
    if isinstance(step, GiveUp):
        headers[CAUSE_HEADER] = Cause.THROTTLED.value
        return DeadLetter(Cause.THROTTLED, delivery.body, headers)
    return Retry(step.delay, delivery.body, headers)  # the body's attempt counter stays as it is


def _dead(
    delivery: Delivery, cause: Cause, reason: str, failures: int, calendar: str | None, now: datetime
) -> DeadLetter:
    headers = failure_headers(
        delivery.headers, reason=reason, failures=failures, now=now, queue=delivery.queue, calendar=calendar
    )
    headers[CAUSE_HEADER] = cause.value
    return DeadLetter(cause, delivery.body, headers)


def _failures(delivery: Delivery, message: Message) -> int:
    counted = failures_so_far(delivery.headers)
    return max(counted, message.attempt) if isinstance(message, ChangeEvent) else counted


def _calendar(headers: Mapping[str, object]) -> str | None:
    value = headers.get(CALENDAR_HEADER)
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value if isinstance(value, str) else None
