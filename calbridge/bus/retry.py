"""When to try a failed message again: a pure function of how often it failed and the schedule.

The schedule is `Settings.retry_delays`: after the n-th failure the message waits delays[n-1]
seconds; after the last one it is dead-lettered. A delay a handler asks for (a Retry-After) is
rounded up to the nearest configured delay, because every delay is a queue on the broker with a
fixed TTL; longer than the longest delay waits the longest. Asking for a delay still counts as an
attempt, so a message that is throttled forever ends in the dead-letter queue too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GiveUp", "RetryAfter", "plan_retry", "round_delay"]


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


def round_delay(requested: float, delays: Sequence[float]) -> float:
    """The smallest configured delay that is at least `requested`, else the largest."""
    if not delays:
        raise ValueError("no delays configured")
    longer = [delay for delay in delays if delay >= requested]
    return min(longer) if longer else max(delays)
