"""Blocking helpers (run in the EWS pool) for the occurrences of a recurring master.

EWS names an occurrence by its master and 1-based InstanceIndex (`OccurrenceItemId`); calbridge
names it by its original start (`InstanceOf`). A changed occurrence is listed with its original
start in the master's `ModifiedOccurrences`; any other one is found by expanding the master's
pattern (`ews_recurrence.occurrence_index`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib.errors import ErrorItemNotFound
from exchangelib.properties import ItemId, OccurrenceItemId

from calbridge.providers.ews.recurrence import occurrence_index
from calbridge.providers.ews.translate import READ_FIELDS

__all__ = ["MASTER_FIELDS", "fetch_one", "find_occurrence", "same_start", "zone_of"]

# What locating an occurrence needs to know about its master.
MASTER_FIELDS = [
    "changekey",
    "start",
    "is_all_day",
    "_start_timezone",
    "_end_timezone",
    "recurrence",
    "modified_occurrences",
    "deleted_occurrences",
]


def fetch_one(folder: Any, ref: ItemId, only_fields: list[str]) -> Any:
    """One item by id; raises ErrorItemNotFound (exchangelib returns it in the list instead)."""
    (result,) = folder.account.fetch(ids=[ref], folder=folder, only_fields=only_fields)
    if isinstance(result, Exception):
        raise result
    return result


def zone_of(item: Any) -> str:
    key = getattr(item._start_timezone, "key", None)
    return "UTC" if key in (None, "Etc/UTC", "Etc/GMT", "GMT") else str(key)


def same_start(a: datetime | date, b: datetime | date, zone: str) -> bool:
    """Equal original starts: instants for timed series, local dates for all-day ones."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _utc(a) == _utc(b)
    tz = ZoneInfo(zone)
    day_a = _utc(a).astimezone(tz).date() if isinstance(a, datetime) else a
    day_b = _utc(b).astimezone(tz).date() if isinstance(b, datetime) else b
    return day_a == day_b


def _utc(moment: datetime) -> datetime:
    # exchangelib's EWSDateTime refuses stdlib tzinfo objects in astimezone().
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def find_occurrence(folder: Any, master_id: str, original: datetime | date) -> Any | None:
    """The occurrence of `master_id` that originally started at `original`, with the fields
    translation reads; None when it was deleted or the series has no such occurrence.
    Raises ErrorItemNotFound when the master is gone."""
    master = fetch_one(folder, ItemId(id=master_id), MASTER_FIELDS)
    if master.recurrence is None:
        return None
    zone = zone_of(master)
    for changed in master.modified_occurrences or ():
        if same_start(changed.original_start, original, zone):
            return fetch_one(folder, ItemId(id=changed.id), list(READ_FIELDS))
    for deleted in master.deleted_occurrences or ():
        if same_start(deleted.start, original, zone):
            return None
    index = occurrence_index(master.recurrence, master.start, original, zone=zone)
    if index is None:
        return None
    ref = OccurrenceItemId(id=master_id, changekey=master.changekey, instance_index=index)
    try:
        return fetch_one(folder, ref, list(READ_FIELDS))
    except ErrorItemNotFound:
        return None
