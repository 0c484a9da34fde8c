"""When to try a failed message again: a pure function of how often it failed and the schedule.

The schedule is `Settings.retry_delays`: after the n-th failure the message waits delays[n-1]
seconds; after the last one it is dead-lettered. A delay a handler asks for (a Retry-After) is
rounded up to the nearest configured delay, because every delay is a queue on the broker with a
fixed TTL; longer than the longest delay waits the longest. Asking for a delay still counts as an
attempt.

Throttling is different (`plan_backoff`): a provider that says "wait" is not a failure, so the
wait it asks for uses up no attempt; what bounds it is the time since the first throttle (a day
by default, `Settings.throttle_limit`), after which the message is dead-lettered like any other
that could not be handled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_THROTTLE_LIMIT", "GiveUp", "RetryAfter", "plan_backoff", "plan_retry", "round_delay"]

DEFAULT_THROTTLE_LIMIT = 86_400.0  # seconds: the default of Settings.throttle_limit


@dataclass(frozen=True, slots=True)
class RetryAfter:
    delay: float  # one of the configured delays


@dataclass(frozen=True, slots=True)
class GiveUp:
    pass


def plan_retry(failures: int, delays: Sequence[float], requested: float | None = None) -> RetryAfter | GiveUp:
    """Decide the next step after the `failures`-th failed attempt (1 for the first failure)."""
    if failures < 1:
        raise ValueError("failures counts the failure being handled, so it is at least 1")
    if failures > len(delays):
        return GiveUp()
    if requested is None:
        return RetryAfter(delays[failures - 1])
    return RetryAfter(round_delay(requested, delays))


def plan_backoff(
    throttled_for: float, requested: float, delays: Sequence[float], limit: float
) -> RetryAfter | GiveUp:
    """Decide the next step for a throttled message that has been backing off for
    `throttled_for` seconds and is asked to wait `requested` more: the delay queue that waits at
    least that long, until `limit` seconds of throttling have passed."""
    if throttled_for > limit or not delays:
        return GiveUp()
    return RetryAfter(round_delay(requested, delays))


def round_delay(requested: float, delays: Sequence[float]) -> float:
    """The smallest configured delay that is at least `requested`, else the largest."""
    if not delays:
        raise ValueError("no delays configured")
    longer = [delay for delay in delays if delay >= requested]
    return min(longer) if longer else max(delays)
