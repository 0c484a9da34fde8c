"""A calendar seen as a list of instances in a window: singles, occurrences and exceptions.

This is what `calendarView`, its delta, `instances` and `getSchedule` all read. Inside the
emulator an occurrence is named by its key (its original start in UTC); outside it has an opaque
id in its series' id format (`ids.occurrence_id`), registered on the series as it is shown so
that a later call with it finds the occurrence again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.graph.recurrence import occurrence_key, occurrences
from sandbox.graph.state import StoredEvent, occurrence_ids

__all__ = ["Instance", "expand", "find_occurrence", "instance_id", "key_start"]


@dataclass(frozen=True)
class Instance:
    item: StoredEvent  # the stored single event or series master
    key: str | None  # occurrence key (original start, UTC) for occurrences and exceptions
    shown: StoredEvent  # whose properties are shown: the item itself or the exception's copy
    start: datetime
    end: datetime
    kind: str  # singleInstance | occurrence | exception | seriesMaster

    @property
    def identity(self) -> str:
        """A stable key for this instance (immutable id based), as delta remembers it."""
        return instance_id(self.item, self.key, immutable=True)


def instance_id(item: StoredEvent, key: str | None, *, immutable: bool) -> str:
    """The id a client sees: the item's own, or an occurrence's opaque one (then remembered)."""
    if key is None:
        return item.immutable_id if immutable else item.rest_id
    as_immutable, as_rest = occurrence_ids(item, key)
    shown = as_immutable if immutable else as_rest
    item.occurrence_index[shown] = key
    return shown


def key_start(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    if start == end:  # a zero-length event shows when it starts inside the window
        return window_start <= start < window_end
    return start < window_end and end > window_start


def expand(item: StoredEvent, window_start: datetime, window_end: datetime) -> list[Instance]:
    if item.recurrence is None:
        if _overlaps(item.start, item.end, window_start, window_end):
            return [Instance(item, None, item, item.start, item.end, "singleInstance")]
        return []
    duration = item.end - item.start
    found: list[Instance] = []
    for original in _originals(item, window_end):
        key = occurrence_key(original)
        if key in item.cancelled or key in item.exceptions:
            continue
        if _overlaps(original, original + duration, window_start, window_end):
            found.append(Instance(item, key, item, original, original + duration, "occurrence"))
    for key, copy in item.exceptions.items():
        if _overlaps(copy.start, copy.end, window_start, window_end):
            found.append(Instance(item, key, copy, copy.start, copy.end, "exception"))
    found.sort(key=lambda i: i.start)
    return found


def expand_all(items: Iterable[StoredEvent], window_start: datetime, window_end: datetime) -> list[Instance]:
    found = [inst for item in items for inst in expand(item, window_start, window_end)]
    found.sort(key=lambda i: (i.start, i.identity))
    return found


def find_occurrence(item: StoredEvent, key: str) -> Instance | None:
    """The occurrence or exception `key` of a series, if the series has (still) got it."""
    if item.recurrence is None or key in item.cancelled:
        return None
    if key in item.exceptions:
        copy = item.exceptions[key]
        return Instance(item, key, copy, copy.start, copy.end, "exception")
    try:
        original = key_start(key)
    except ValueError:
        return None
    for start in _originals(item, original + timedelta(seconds=1)):
        if start == original:
            return Instance(item, key, item, start, start + (item.end - item.start), "occurrence")
    return None


def _originals(item: StoredEvent, until: datetime) -> list[datetime]:
    assert item.recurrence is not None
    return occurrences(item.recurrence, item.start, item.start_zone, until, floating=item.is_all_day)
