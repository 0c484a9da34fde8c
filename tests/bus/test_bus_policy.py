"""The pure pieces of the bus: retry schedule, failure headers, and the verdict on one delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calbridge.bus.base import BackOff, Reject, RetryLater
from calbridge.bus.deadletter import (
    ATTEMPTS_HEADER,
    CAUSE_HEADER,
    ERROR_HEADER,
    FIRST_FAILURE_HEADER,
    LAST_FAILURE_HEADER,
    THROTTLED_SINCE_HEADER,
    describe_error,
    failure_headers,
    failures_so_far,
)
from calbridge.bus.handling import DeadLetter, Delivery, Done, Retry, judge
from calbridge.bus.names import CALENDAR_HEADER, delay_queue, shard_of
from calbridge.bus.retry import GiveUp, RetryAfter, plan_backoff, plan_retry, round_delay
from calbridge.events import ChangeEvent, ChangeKind, Provider, decode_change, encode

DELAYS = (1.0, 5.0, 30.0)
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 5.0), (3, 30.0)])
def test_given_failures_within_schedule_then_retry_after_scheduled_delay(
    failures: int, expected: float
) -> None:
    assert plan_retry(failures, DELAYS) == RetryAfter(expected)


def test_given_failure_after_last_delay_then_give_up() -> None:
    assert plan_retry(4, DELAYS) == GiveUp()


def test_given_no_delays_configured_then_first_failure_gives_up() -> None:
    assert plan_retry(1, ()) == GiveUp()


@pytest.mark.parametrize(
    ("requested", "expected"), [(0.2, 1.0), (1.0, 1.0), (2.0, 5.0), (29.0, 30.0), (900, 30.0)]
)
def test_given_requested_delay_then_rounded_up_to_a_delay_queue(requested: float, expected: float) -> None:
    assert round_delay(requested, DELAYS) == expected
    assert plan_retry(1, DELAYS, requested) == RetryAfter(expected)


def test_given_requested_delay_after_last_attempt_then_still_gives_up() -> None:
    assert plan_retry(4, DELAYS, requested=1.0) == GiveUp()


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError):
        plan_retry(0, DELAYS)


def test_given_second_failure_then_first_failure_time_is_kept() -> None:
    first = failure_headers({}, reason="boom", failures=1, now=T0, queue="q", calendar="cal")
    second = failure_headers(first, reason="bang", failures=2, now=T1, queue="q", calendar="cal")
    assert second[FIRST_FAILURE_HEADER] == T0.isoformat()
    assert second[LAST_FAILURE_HEADER] == T1.isoformat()
    assert second[ERROR_HEADER] == "bang"
    assert failures_so_far(second) == 2


def test_given_garbage_attempts_header_then_counted_as_fresh() -> None:
    assert failures_so_far({ATTEMPTS_HEADER: "three"}) == 0
    assert failures_so_far({}) == 0


def test_error_descriptions_are_one_bounded_line() -> None:
    assert describe_error(ValueError("a\nb")) == "ValueError: a b"
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert len(describe_error(RuntimeError("x" * 5000))) == 500


def test_delay_queues_are_named_by_their_delay() -> None:
    assert delay_queue("calbridge.changes", 0.05) == "calbridge.changes.delay.50ms"
    assert delay_queue("calbridge.lifecycle", 30) == "calbridge.lifecycle.delay.30000ms"


def test_memory_shard_of_is_stable_and_in_range() -> None:
    shards = {shard_of(f"cal-{n}", 8) for n in range(200)}
    assert shards == set(range(8))
    assert shard_of("cal-1", 8) == shard_of("cal-1", 8)


def _delivery(event: ChangeEvent, headers: dict[str, object] | None = None) -> Delivery:
    return Delivery(
        encode(event), {CALENDAR_HEADER: event.calendar, **(headers or {})}, "calbridge.changes.3"
    )


EVENT = ChangeEvent(provider=Provider.GOOGLE, calendar="cal-7", kind=ChangeKind.CHANGED)


async def test_given_handler_returns_then_done() -> None:
    async def ok(event: ChangeEvent) -> None:
        return None

    assert await judge(_delivery(EVENT), decode_change, ok, DELAYS) == Done()


async def test_given_handler_fails_then_retry_with_next_attempt_in_body_and_headers() -> None:
    async def fail(event: ChangeEvent) -> None:
        raise ConnectionResetError("peer went away")

    verdict = await judge(_delivery(EVENT), decode_change, fail, DELAYS, now=lambda: T0)
    assert isinstance(verdict, Retry)
    assert verdict.delay == 1.0
    assert decode_change(verdict.body).attempt == 1
    assert verdict.headers[ATTEMPTS_HEADER] == 1
    assert verdict.headers[ERROR_HEADER] == "ConnectionResetError: peer went away"
    assert verdict.headers[CALENDAR_HEADER] == "cal-7"  # so the hash routes it back to its shard


async def test_given_retry_later_with_retry_after_then_delay_rounded_up() -> None:
    async def throttled(event: ChangeEvent) -> None:
        raise RetryLater("429", delay=3)

    verdict = await judge(_delivery(EVENT), decode_change, throttled, DELAYS)
    assert isinstance(verdict, Retry)
    assert verdict.delay == 5.0
    assert verdict.headers[ERROR_HEADER] == "429"


async def test_given_last_attempt_fails_then_dead_letter_exhausted() -> None:
    async def fail(event: ChangeEvent) -> None:
        raise RuntimeError("still broken")

    delivery = _delivery(EVENT.model_copy(update={"attempt": 3}), {ATTEMPTS_HEADER: 3})
    verdict = await judge(delivery, decode_change, fail, DELAYS)
    assert isinstance(verdict, DeadLetter)
    assert verdict.headers[CAUSE_HEADER] == "exhausted"
    assert verdict.headers[ATTEMPTS_HEADER] == 4


async def test_given_reject_then_dead_letter_at_once() -> None:
    async def reject(event: ChangeEvent) -> None:
        raise Reject("no such pair")

    verdict = await judge(_delivery(EVENT), decode_change, reject, DELAYS)
    assert isinstance(verdict, DeadLetter)
    assert verdict.headers[CAUSE_HEADER] == "rejected"
    assert verdict.headers[ERROR_HEADER] == "no such pair"


async def test_given_wrong_envelope_version_then_dead_letter_malformed_without_calling_handler() -> None:
    async def never(event: ChangeEvent) -> None:
        raise AssertionError("handler must not run")

    delivery = Delivery(b'{"v": 2}', {CALENDAR_HEADER: "cal-7"}, "calbridge.changes.0")
    verdict = await judge(delivery, decode_change, never, DELAYS)
    assert isinstance(verdict, DeadLetter)
    assert verdict.headers[CAUSE_HEADER] == "malformed"
    assert "version 2" in str(verdict.headers[ERROR_HEADER])


# --- throttling is back-pressure: it waits as asked and uses up no attempt, bounded by time

DAY = 86_400.0


@pytest.mark.parametrize(("requested", "expected"), [(0.5, 1.0), (3.0, 5.0), (30.0, 30.0), (4000.0, 30.0)])
def test_given_a_throttle_within_the_limit_then_it_waits_at_least_as_asked(
    requested: float, expected: float
) -> None:
    assert plan_backoff(60.0, requested, DELAYS, DAY) == RetryAfter(expected)


def test_given_a_throttle_past_the_limit_then_give_up() -> None:
    assert plan_backoff(DAY + 1, 1.0, DELAYS, DAY) == GiveUp()


async def test_given_a_handler_throttled_many_times_then_no_attempt_is_used_and_it_is_not_dead_lettered() -> (
    None
):
    async def throttled(event: ChangeEvent) -> None:
        raise BackOff("pair=p1 Throttled: graph 429", delay=2.0)

    # One real failure first: its attempt count must survive the throttles that follow.
    delivery = _delivery(EVENT.model_copy(update={"attempt": 1}), {ATTEMPTS_HEADER: 1})
    for minute in range(len(DELAYS) * 5):  # far more throttles than the schedule has attempts
        now = datetime(2026, 11, 21, 6, minute, tzinfo=UTC)
        verdict = await judge(delivery, decode_change, throttled, DELAYS, now=lambda now=now: now)
        assert isinstance(verdict, Retry), f"dead-lettered after {minute + 1} throttles"
        assert verdict.delay == 5.0
        delivery = Delivery(verdict.body, dict(verdict.headers), delivery.queue)
    assert decode_change(delivery.body).attempt == 1
    assert delivery.headers[ATTEMPTS_HEADER] == 1
    assert delivery.headers[THROTTLED_SINCE_HEADER] == T0.isoformat()  # the first throttle's time
    assert delivery.headers[CALENDAR_HEADER] == "cal-7"


async def test_given_a_handler_throttled_for_longer_than_the_limit_then_dead_lettered_as_throttled() -> None:
    async def throttled(event: ChangeEvent) -> None:
        raise BackOff("pair=p1 Throttled: google 403 userRateLimitExceeded", delay=30.0)

    delivery = _delivery(EVENT, {THROTTLED_SINCE_HEADER: T0.isoformat()})
    within = await judge(delivery, decode_change, throttled, DELAYS, now=lambda: T1, throttle_limit=3600)
    assert isinstance(within, Retry)
    later = datetime(2026, 11, 21, 7, 0, 1, tzinfo=UTC)
    verdict = await judge(delivery, decode_change, throttled, DELAYS, now=lambda: later, throttle_limit=3600)
    assert isinstance(verdict, DeadLetter)
    assert verdict.headers[CAUSE_HEADER] == "throttled"
    assert "throttled for over 3600s" in str(verdict.headers[ERROR_HEADER])


async def test_given_a_failure_after_a_throttle_then_the_throttle_clock_is_kept() -> None:
    async def fail(event: ChangeEvent) -> None:
        raise ConnectionResetError("peer went away")

    delivery = _delivery(EVENT, {THROTTLED_SINCE_HEADER: T0.isoformat()})
    verdict = await judge(delivery, decode_change, fail, DELAYS, now=lambda: T1)
    assert isinstance(verdict, Retry)
    assert verdict.headers[ATTEMPTS_HEADER] == 1  # a real failure counts
    assert verdict.headers[THROTTLED_SINCE_HEADER] == T0.isoformat()
