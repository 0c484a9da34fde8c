"""Outlook's zone labels: the zone of a series Graph names only by a label (pure).

calbridge reads Graph in UTC and takes an event's zone from `originalStartTimeZone`, a series'
from `recurrence.range.recurrenceTimeZone`. Desktop Outlook can record a custom zone instead (its
own offsets and daylight-saving rules, which Graph v1.0 does not show), and then both say only
`tzone://Microsoft/Custom` or `Customized Time Zone`. Exchange still expands the series on that
zone's wall clock, so the series' own offsets are in its slots (each instance's `originalStart`,
an exact instant): a zone in which every slot falls at the same wall-clock time expands the
series as Exchange does, over the span the slots cover. Read in UTC instead, a series would
drift by an hour at a daylight-saving change, and every later slot would look cancelled.

Candidates are CLDR's Windows zones (through their IANA names): UTC first (no daylight saving
is assumed that the slots do not show), then the zones CLDR maps the most places to, then by
name; the first that fits is taken. Every zone that fits puts each slot at the same instant and
changes its offset where the series does, so the mirror is right whichever is taken; only the
zone's name is a guess (Graph does not show it): a series in Berlin reads as Europe/Berlin, one
in New York may read as America/Chicago an hour earlier on the clock. So the mailbox's own
zone (`mailboxSettings.timeZone`, when the app may read it) is tried first. A read over a later
window (the feed looks a year ahead) chooses again. A single event has one offset, which a UTC
read does not show: it keeps exact instants, named by the mailbox's zone when known, else UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib.winzone import CLDR_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

from calbridge.translate.errors import UnknownTimeZone
from calbridge.translate.zones import to_iana

__all__ = ["is_known_zone", "needs_home_zone", "needs_series_zone", "zone_from_slots"]

MIDNIGHT = time()


def is_known_zone(name: object) -> bool:
    """Whether `name` is a zone (Windows or IANA), not a label or nothing."""
    if not isinstance(name, str) or not name:
        return False
    try:
        to_iana(name)
    except UnknownTimeZone:
        return False
    return True


def needs_series_zone(item: Mapping[str, Any]) -> bool:
    """Whether `item` belongs to a series whose zone Graph names only by a label."""
    if item.get("type") not in ("seriesMaster", "occurrence", "exception"):
        return False
    range_zone = ((item.get("recurrence") or {}).get("range") or {}).get("recurrenceTimeZone")
    return not is_known_zone(item.get("originalStartTimeZone")) and not is_known_zone(range_zone)


def needs_home_zone(item: Mapping[str, Any]) -> bool:
    """Whether `item` is a single event whose zone Graph names only by a label: its instants are
    exact, and the mailbox's own zone (mailboxSettings) is the best name for it."""
    if item.get("type") not in (None, "singleInstance"):
        return False
    label = item.get("originalStartTimeZone")
    return isinstance(label, str) and bool(label) and not is_known_zone(label)


def zone_from_slots(slots: Sequence[datetime], *, all_day: bool, prefer: str | None = None) -> str | None:
    """An IANA zone in which every slot (aware) falls at one wall-clock time (midnight, for an
    all-day series); None when there is no slot, or no zone fits. `prefer` (the mailbox's own
    zone) is tried first: where it fits, it is the series' zone by its true name."""
    if not slots:
        return None
    for zone in ((prefer,) if prefer else ()) + _candidates():
        tz = ZoneInfo(zone)
        wall = MIDNIGHT if all_day else slots[0].astimezone(tz).time()
        if all(slot.astimezone(tz).time() == wall for slot in slots):
            return zone
    return None


@cache
def _candidates() -> tuple[str, ...]:
    """The IANA counterparts of CLDR's Windows zones, each once: UTC, then by the number of
    places CLDR maps to the Windows zone (most first), then by name."""
    places = Counter(_windows_name(entry) for entry in CLDR_TO_MS_TIMEZONE_MAP.values())
    ordered = sorted(MS_TIMEZONE_TO_IANA_MAP, key=lambda windows: (-places[windows], windows))
    seen: dict[str, None] = {"UTC": None}
    for windows in ordered:
        seen.setdefault(str(MS_TIMEZONE_TO_IANA_MAP[windows]), None)
    return tuple(seen)


def _windows_name(entry: object) -> str:
    # exchangelib stores (windows_name, territory) pairs in some versions, plain names in others.
    return str(entry[0]) if isinstance(entry, tuple) else str(entry)
