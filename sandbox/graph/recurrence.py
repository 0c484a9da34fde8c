"""Graph's `patternedRecurrence` expanded into occurrences with dateutil.

The rule is evaluated in the series' own zone (`range.recurrenceTimeZone`, else the start's
zone), so a weekly 09:00 meeting stays at 09:00 local across DST; an all-day series steps over
floating dates. Occurrences are named by a key: their original start in UTC.

What a client sent is stored the way Graph gives it back (`complete_recurrence`): the whole
pattern (`month: 0`, `dayOfMonth: 0`, `firstDayOfWeek`, `index: "first"` where they do not
apply, `daysOfWeek` for the weekly and relative types), and the whole range (`endDate:
"0001-01-01"` for numbered and no-end ranges, `numberOfOccurrences: 0` unless numbered,
`recurrenceTimeZone` filled with the event's zone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from dateutil import rrule

from sandbox.graph.errors import GraphError
from sandbox.graph.timezones import resolve_zone

__all__ = ["complete_recurrence", "occurrence_key", "occurrences", "validate_recurrence"]

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
# Required pattern properties per type (firstDayOfWeek and index have defaults).
_PATTERN_FIELDS = {
    "daily": {"interval"},
    "weekly": {"interval", "daysOfWeek"},
    "absoluteMonthly": {"interval", "dayOfMonth"},
    "relativeMonthly": {"interval", "daysOfWeek"},
    "absoluteYearly": {"interval", "dayOfMonth", "month"},
    "relativeYearly": {"interval", "daysOfWeek", "month"},
}


def occurrence_key(original_start: datetime) -> str:
    return original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def validate_recurrence(value: Any) -> dict[str, Any]:
    """Check a patternedRecurrence the way Graph does (unknown pattern types are refused)."""
    if not isinstance(value, dict) or not isinstance(value.get("pattern"), dict):
        raise GraphError(400, "ErrorInvalidRequest", "recurrence must have a pattern and a range.")
    pattern, rng = value["pattern"], value.get("range") or {}
    kind = pattern.get("type")
    if kind not in _PATTERN_FIELDS:
        raise GraphError(400, "ErrorInvalidRecurrence", f"Unsupported recurrence pattern type '{kind}'.")
    missing = sorted(name for name in _PATTERN_FIELDS[kind] if not pattern.get(name))
    if missing:
        raise GraphError(400, "ErrorInvalidRecurrence", f"The {kind} pattern needs {', '.join(missing)}.")
    unknown_days = {str(d).lower() for d in pattern.get("daysOfWeek") or []} - _DAYS.keys()
    if unknown_days:
        raise GraphError(400, "ErrorInvalidRecurrence", f"Unknown daysOfWeek {sorted(unknown_days)}.")
    range_type = str(rng.get("type", "")).lower()
    if range_type not in ("enddate", "noend", "numbered") or not rng.get("startDate"):
        raise GraphError(400, "ErrorInvalidRecurrence", "range needs a type and a startDate.")
    if range_type == "enddate" and not rng.get("endDate"):
        raise GraphError(400, "ErrorInvalidRecurrence", "range type endDate needs an endDate.")
    if range_type == "numbered" and int(rng.get("numberOfOccurrences") or 0) < 1:
        raise GraphError(400, "ErrorInvalidRecurrence", "range type numbered needs numberOfOccurrences.")
    return value


_WITH_DAYS = {"weekly", "relativeMonthly", "relativeYearly"}
_RANGE_TYPES = {"enddate": "endDate", "noend": "noEnd", "numbered": "numbered"}
NO_DATE = "0001-01-01"


def complete_recurrence(value: dict[str, Any], zone_name: str) -> dict[str, Any]:
    """A validated patternedRecurrence as Graph stores and returns it (see the module doc)."""
    pattern, rng = value["pattern"], value["range"]
    kind = str(pattern["type"])
    whole: dict[str, Any] = {
        "type": kind,
        "interval": int(pattern.get("interval") or 1),
        "month": int(pattern.get("month") or 0),
        "dayOfMonth": int(pattern.get("dayOfMonth") or 0),
    }
    if kind in _WITH_DAYS:
        whole["daysOfWeek"] = [str(d).lower() for d in pattern.get("daysOfWeek") or []]
    whole["firstDayOfWeek"] = str(pattern.get("firstDayOfWeek") or "sunday").lower()
    whole["index"] = str(pattern.get("index") or "first").lower()
    range_type = _RANGE_TYPES[str(rng["type"]).lower()]
    return {
        "pattern": whole,
        "range": {
            "type": range_type,
            "startDate": str(rng["startDate"])[:10],
            "endDate": str(rng["endDate"])[:10] if range_type == "endDate" else NO_DATE,
            "recurrenceTimeZone": str(rng.get("recurrenceTimeZone") or zone_name),
            "numberOfOccurrences": int(rng["numberOfOccurrences"]) if range_type == "numbered" else 0,
        },
    }


def _rule(recurrence: dict[str, Any], first: datetime) -> rrule.rrule:
    pattern, rng = recurrence["pattern"], recurrence["range"]
    kind = pattern["type"]
    interval = int(pattern.get("interval") or 1)
    days = [_DAYS[d.lower()] for d in pattern.get("daysOfWeek") or []]
    index = _INDEX.get(str(pattern.get("index") or "first").lower(), 1)
    kwargs: dict[str, Any] = {"dtstart": first, "interval": interval}
    if kind == "daily":
        freq = rrule.DAILY
    elif kind == "weekly":
        freq = rrule.WEEKLY
        kwargs["byweekday"] = days
        kwargs["wkst"] = _DAYS[str(pattern.get("firstDayOfWeek") or "sunday").lower()]
    elif kind == "absoluteMonthly":
        freq, kwargs["bymonthday"] = rrule.MONTHLY, int(pattern["dayOfMonth"])
    elif kind == "relativeMonthly":
        freq, kwargs["byweekday"], kwargs["bysetpos"] = rrule.MONTHLY, days, index
    elif kind == "absoluteYearly":
        freq = rrule.YEARLY
        kwargs["bymonth"], kwargs["bymonthday"] = int(pattern["month"]), int(pattern["dayOfMonth"])
    else:
        freq = rrule.YEARLY
        kwargs["bymonth"], kwargs["byweekday"], kwargs["bysetpos"] = int(pattern["month"]), days, index
    range_type = str(rng["type"]).lower()
    if range_type == "numbered":
        kwargs["count"] = int(rng["numberOfOccurrences"])
    elif range_type == "enddate":
        kwargs["until"] = datetime.combine(date.fromisoformat(rng["endDate"]), datetime.max.time())
    return rrule.rrule(freq, **kwargs)


def occurrences(
    recurrence: dict[str, Any], start: datetime, zone_name: str, until: datetime, *, floating: bool = False
) -> list[datetime]:
    """Original starts (UTC) of the series' occurrences that begin before `until`.

    `floating`: an all-day series, stored as midnight UTC of its dates, steps in UTC. A
    recurrenceTimeZone that names no zone (`Customized Time Zone`) leaves the start's zone.
    """
    named = resolve_zone(str(recurrence.get("range", {}).get("recurrenceTimeZone") or ""))
    zone = UTC if floating else named or resolve_zone(zone_name) or UTC
    local_start = start.astimezone(zone)
    first_day = date.fromisoformat(recurrence["range"]["startDate"])
    first = datetime.combine(first_day, local_start.time())  # naive wall time: DST-safe stepping
    limit = until.astimezone(zone).replace(tzinfo=None)
    found: list[datetime] = []
    for wall in _rule(recurrence, first):
        if wall >= limit:
            break
        found.append(wall.replace(tzinfo=zone).astimezone(UTC))
    return found
