"""The chaos benchmark's verdict, kept pure: calendar state read from the sandbox -> shapes ->
counts of lost, duplicated, mismatched and stale mirrors.

Every event the benchmark makes carries a key in its title (`[k12] Standup v3`), kept through
renames, so an event and its mirror are matched by key whatever ids the two providers chose.
The origin is the copy in the calendar where the benchmark made (or last moved) the event; every
other copy with the same key is a mirror. Only what a person would notice is compared: title,
start and end (UTC minutes; dates for all-day events), all-day, location, recurrence and the
dates of cancelled occurrences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "Shape",
    "Tally",
    "ews_shapes",
    "google_shapes",
    "graph_shapes",
    "key_of",
    "tally",
]

_KEY = re.compile(r"\[(k\d+)\]")
_FRACTION = re.compile(r"\.\d+")


def key_of(title: str | None) -> str | None:
    match = _KEY.search(title or "")
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Shape:
    """One calendar entry as a person sees it, provider-neutral."""

    key: str | None
    title: str
    start: str  # "2026-12-15T10:00Z", or "2026-12-15" when all-day
    end: str
    all_day: bool
    location: str = ""
    recurring: bool = False
    cancelled: frozenset[str] = frozenset()  # dates of cancelled occurrences

    def differences(self, other: Shape) -> list[str]:
        names = ("title", "start", "end", "all_day", "location", "recurring", "cancelled")
        return [name for name in names if getattr(self, name) != getattr(other, name)]


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _parse(value: str, zone: str | None = None) -> datetime:
    moment = datetime.fromisoformat(_FRACTION.sub("", value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone) if zone and zone != "UTC" else UTC)
    return moment


def _times(start: datetime, end: datetime, all_day: bool) -> tuple[str, str]:
    if all_day:
        return start.date().isoformat(), end.date().isoformat()
    return _minute(start), _minute(end)


# --- Google: events of one calendar as the control API lists them


def google_shapes(events: Iterable[Mapping[str, Any]]) -> list[Shape]:
    events = list(events)
    cancelled: dict[str, set[str]] = {}
    for event in events:
        series = event.get("recurringEventId")
        if series and event.get("status") == "cancelled":
            original = event.get("originalStartTime", {})
            moment = original.get("date") or _parse(original["dateTime"]).astimezone(UTC).date().isoformat()
            cancelled.setdefault(series, set()).add(moment)
    shapes = []
    for event in events:
        if event.get("status") == "cancelled" or event.get("recurringEventId"):
            continue  # deleted, or an occurrence of a series (counted with its series)
        start, end = event.get("start", {}), event.get("end", {})
        all_day = "date" in start
        if all_day:
            times = (start["date"], end["date"])
        else:
            times = _times(_parse(start["dateTime"]), _parse(end["dateTime"]), False)
        shapes.append(
            Shape(
                key_of(event.get("summary")),
                event.get("summary") or "",
                times[0],
                times[1],
                all_day,
                event.get("location") or "",
                bool(event.get("recurrence")),
                frozenset(cancelled.get(event["id"], ())),
            )
        )
    return shapes


# --- Graph: the control API's calendar state


def _graph_occurrence_date(value: str) -> str:
    """A cancelled occurrence as the state lists it ("20261216T090000Z", or a date) -> its date."""
    digits = value.replace("-", "")[:8]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def graph_shapes(rows: Iterable[Mapping[str, Any]]) -> list[Shape]:
    shapes = []
    for row in rows:
        all_day = bool(row.get("isAllDay"))
        start = _parse(row["start"]["dateTime"], row["start"].get("timeZone"))
        end = _parse(row["end"]["dateTime"], row["end"].get("timeZone"))
        times = _times(start, end, all_day)
        cancelled = frozenset(_graph_occurrence_date(str(v)) for v in row.get("cancelledOccurrences") or ())
        shapes.append(
            Shape(
                key_of(row.get("subject")),
                row.get("subject") or "",
                times[0],
                times[1],
                all_day,
                (row.get("location") or {}).get("displayName") or "",
                row.get("recurrence") is not None,
                cancelled,
            )
        )
    return shapes


# --- EWS: the control API's calendar folder (occurrences are numbered; the benchmark's series
# are daily, so occurrence n falls n - 1 days after the first)


def ews_shapes(items: Iterable[Mapping[str, Any]]) -> list[Shape]:
    shapes = []
    for item in items:
        all_day = bool(item.get("is_all_day"))
        start, end = _parse(item["start"]), _parse(item["end"])
        times = _times(start, end, all_day)
        first = start.astimezone(UTC).date() if not all_day else start.date()
        cancelled = frozenset(
            (first + timedelta(days=int(n) - 1)).isoformat() for n in item.get("deleted_occurrences") or ()
        )
        shapes.append(
            Shape(
                key_of(item.get("subject")),
                item.get("subject") or "",
                times[0],
                times[1],
                all_day,
                item.get("location") or "",
                bool(item.get("recurring")),
                cancelled,
            )
        )
    return shapes


# --- the verdict


@dataclass
class Tally:
    origins: int = 0  # bench events still present at their origin
    deleted: int = 0  # bench events deleted at their origin
    lost: list[str] = field(default_factory=list)  # origin present, no mirror
    duplicated: list[str] = field(default_factory=list)  # more than one mirror (or copy of the origin)
    mismatched: list[str] = field(default_factory=list)  # one mirror, fields differ (key: fields)
    stale: list[str] = field(default_factory=list)  # a copy left where none belongs
    strays: int = 0  # entries without a bench key

    @property
    def converged(self) -> bool:
        return not (self.lost or self.duplicated or self.mismatched or self.stale)


Place = tuple[int, str]  # (pair index, side: "google" | "microsoft")


def tally(origins: Mapping[str, Place], calendars: Mapping[Place, list[Shape]]) -> Tally:
    """`origins`: each bench key -> where its origin lives; `calendars`: every pair's two sides."""
    where: dict[str, list[tuple[Place, Shape]]] = {}
    result = Tally()
    for place, shapes in calendars.items():
        for shape in shapes:
            if shape.key is None or shape.key not in origins:
                result.strays += 1
                continue
            where.setdefault(shape.key, []).append((place, shape))
    for key, origin_place in origins.items():
        copies = where.get(key, [])
        at_origin = [s for p, s in copies if p == origin_place]
        mirror_place = (origin_place[0], "microsoft" if origin_place[1] == "google" else "google")
        mirrors = [s for p, s in copies if p == mirror_place]
        elsewhere = [p for p, _ in copies if p not in (origin_place, mirror_place)]
        if elsewhere:
            result.stale.append(key)
        if not at_origin:
            result.deleted += 1
            if mirrors:
                result.stale.append(key)
            continue
        result.origins += 1
        if len(at_origin) > 1 or len(mirrors) > 1:
            result.duplicated.append(key)
        elif not mirrors:
            result.lost.append(key)
        else:
            differences = at_origin[0].differences(mirrors[0])
            if differences:
                result.mismatched.append(f"{key}: {', '.join(differences)}")
    return result
