"""How few provider calls answer a set of addresses over a window: a pure plan.

Each provider caps the addresses per call and the span of one call (its profile's `freebusy`
limits); a request is cut into batches of addresses and, when the window is longer than a
provider accepts, into consecutive slices of the window. Every (batch, slice) is one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["PlannedCall", "ProviderLimits", "batches", "plan_calls", "slices"]


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    max_addresses: int
    max_window: timedelta


@dataclass(frozen=True, slots=True)
class PlannedCall:
    addresses: tuple[str, ...]
    start: datetime
    end: datetime


def batches(addresses: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive groups of at most `size` addresses, in the order given."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [tuple(addresses[i : i + size]) for i in range(0, len(addresses), size)]


def slices(start: datetime, end: datetime, longest: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive spans of at most `longest`."""
    spans = []
    cursor = start
    while cursor < end:
        stop = min(cursor + longest, end)
        spans.append((cursor, stop))
        cursor = stop
    return spans


def plan_calls(
    addresses: Sequence[str], start: datetime, end: datetime, limits: ProviderLimits
) -> list[PlannedCall]:
    return [
        PlannedCall(batch, lo, hi)
        for lo, hi in slices(start, end, limits.max_window)
        for batch in batches(addresses, limits.max_addresses)
    ]
