"""Pure interval arithmetic: merge overlapping blocks by status precedence, clip to a window,
and turn all-day dates into instants in the requested zone.

Precedence decides what a minute covered by several blocks shows: oof > busy >
workingElsewhere > tentative. Merging is a sweep over block boundaries, so n blocks cost
O(n log n) whatever their overlaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, tzinfo

from calbridge.freebusy.types import Busy, BusyStatus

__all__ = ["PRECEDENCE", "all_day_span", "clip", "localize", "merge", "normalize"]

PRECEDENCE: dict[BusyStatus, int] = {
    BusyStatus.TENTATIVE: 1,
    BusyStatus.WORKING_ELSEWHERE: 2,
    BusyStatus.BUSY: 3,
    BusyStatus.OOF: 4,
}


def merge(blocks: Iterable[Busy]) -> list[Busy]:
    """Disjoint, sorted blocks; where blocks overlap the highest-precedence status wins, and
    touching blocks of the same status become one. Results are in UTC: aware datetimes that
    share a zone compare as wall clocks, which is wrong inside a repeated DST hour."""
    edges: list[tuple[datetime, int, BusyStatus]] = []
    for block in blocks:
        if block.start.astimezone(UTC) < block.end.astimezone(UTC):
            edges.append((block.start.astimezone(UTC), 1, block.status))
            edges.append((block.end.astimezone(UTC), -1, block.status))
    edges.sort(key=lambda edge: edge[0])
    active = dict.fromkeys(BusyStatus, 0)
    merged: list[Busy] = []
    current: BusyStatus | None = None
    since: datetime | None = None
    i = 0
    while i < len(edges):
        instant = edges[i][0]
        while i < len(edges) and edges[i][0] == instant:  # apply every edge at this instant first
            active[edges[i][2]] += edges[i][1]
            i += 1
        showing = max((s for s, n in active.items() if n > 0), key=PRECEDENCE.__getitem__, default=None)
        if showing == current:
            continue
        if current is not None and since is not None and since < instant:
            merged.append(Busy(since, instant, current))
        current, since = showing, instant
    return merged


def clip(blocks: Iterable[Busy], start: datetime, end: datetime) -> list[Busy]:
    """The parts of `blocks` inside [start, end), in UTC; blocks wholly outside disappear."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    clipped = []
    for block in blocks:
        lo, hi = max(block.start.astimezone(UTC), start), min(block.end.astimezone(UTC), end)
        if lo < hi:
            clipped.append(Busy(lo, hi, block.status))
    return clipped


def normalize(blocks: Iterable[Busy], start: datetime, end: datetime) -> tuple[Busy, ...]:
    """What an answer shows: merged, then clipped to the window."""
    return tuple(clip(merge(blocks), start, end))


def all_day_span(first: date, end_exclusive: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """An all-day block (end date exclusive, as Google and iCalendar write it) as the instants
    from local midnight to local midnight in `zone`: a day off in Berlin is not 00:00-24:00 UTC."""
    return datetime.combine(first, time(0), zone), datetime.combine(end_exclusive, time(0), zone)


def localize(wall: datetime, zone: tzinfo) -> datetime:
    """A provider's wall-clock time (EWS, Graph without offsets) in the zone it was asked for."""
    return wall if wall.tzinfo is not None else wall.replace(tzinfo=zone)
