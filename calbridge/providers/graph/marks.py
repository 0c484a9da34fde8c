"""The marks (extended properties) of Graph events this adapter last wrote or read, by version.

Delta cannot expand extended properties, so a listed event calbridge may have stamped is read
once more to see its marks. But any change to an Outlook item, its extended properties
included, gives it a new `changeKey`: when a delta row names the `changeKey` this adapter last
saw the event with, its marks are the ones seen then. The echo of calbridge's own write (the
commonest row on a mirrored calendar) then costs no GET. A miss (another replica wrote it, the
memo forgot it, a person edited it) reads the event as before.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any

__all__ = ["KnownMarks"]

_MARKS = "singleValueExtendedProperties"


class KnownMarks:
    """A bounded memo: event id -> (changeKey, marks), the least recently noted forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        # An echo is read back within seconds of the write: the last 10,000 events are plenty,
        # at well under 1 KB each (property ids interned, values kept as they came).
        self._capacity = capacity
        self._seen: OrderedDict[str, tuple[str, tuple[tuple[str, Any], ...]]] = OrderedDict()

    def note(self, item: dict[str, Any]) -> None:
        """Remember `item`'s marks under its version (an item read or written with its marks)."""
        event_id, version = item.get("id"), item.get("changeKey")
        if not event_id or not version or _MARKS not in item:
            return
        marks = tuple((sys.intern(str(mark.get("id", ""))), mark.get("value")) for mark in item[_MARKS] or [])
        self._seen[event_id] = (version, marks)
        self._seen.move_to_end(event_id)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def complete(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """`row` with the marks last seen at its version; None when that version is unknown."""
        known = self._seen.get(row.get("id") or "")
        if known is None or not row.get("changeKey") or known[0] != row["changeKey"]:
            return None
        return {**row, _MARKS: [{"id": mark_id, "value": value} for mark_id, value in known[1]]}
