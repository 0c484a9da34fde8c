"""Occurrences of recurring masters: their ids, their times, and the modified and deleted ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sandbox.ews.ids import occurrence_id, parse_occurrence_id
from sandbox.ews.items import span
from sandbox.ews.recurrence import expand, zone_for
from sandbox.ews.state import StoredItem

__all__ = [
    "Occurrence",
    "all_starts",
    "far_future",
    "find_occurrence",
    "occurrence_id",
    "occurrences",
    "parse_occurrence_id",
]


def _zone(item: StoredItem) -> ZoneInfo:
    """Recurrences repeat in the master's start time zone (wall clock survives DST)."""
    zone_elem = item.fields.get("StartTimeZone")
    return zone_for(zone_elem.get("Id") if zone_elem is not None else None)


@dataclass(frozen=True)
class Occurrence:
    index: int
    original_start: datetime
    start: datetime
    end: datetime
    modified: bool


def occurrences(item: StoredItem, until: datetime) -> list[Occurrence]:
    """The master's occurrences up to `until`, deleted ones left out and modified ones moved."""
    recurrence = item.fields.get("Recurrence")
    start, end = span(item.fields)
    if recurrence is None or start is None or end is None:
        return []
    zone = _zone(item)
    found: list[Occurrence] = []
    for index, occ_start in enumerate(expand(recurrence, start, zone, until), start=1):
        if index in item.deleted_occurrences:
            continue
        override = item.exceptions.get(index, {})
        o_start, o_end = span(override)
        found.append(
            Occurrence(
                index, occ_start, o_start or occ_start, o_end or occ_start + (end - start), bool(override)
            )
        )
    return found


def find_occurrence(item: StoredItem, index: int) -> Occurrence | None:
    start, _ = span(item.fields)
    if start is None:
        return None
    horizon = start + timedelta(days=3660)
    for occ in occurrences(item, horizon):
        if occ.index == index:
            return occ
        if occ.index > index:
            break
    return None


def far_future(item: StoredItem) -> datetime:
    start, _ = span(item.fields)
    return (start or datetime.now(UTC)) + timedelta(days=3660)


def all_starts(item: StoredItem) -> list[datetime]:
    recurrence = item.fields["Recurrence"]
    start, _ = span(item.fields)
    zone = _zone(item)
    assert start is not None
    return expand(recurrence, start, zone, far_future(item))
