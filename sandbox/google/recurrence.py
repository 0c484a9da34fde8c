"""Expanding a recurring event into instances, the way Google names and shapes them.

A series is expanded in its `start.timeZone` (wall-clock times survive DST changes). An instance
id is `<series id>_<original start>`: `20240105T090000Z` (UTC) for timed series, `20240105` for
all-day ones. Stored exceptions (moved or cancelled instances) replace the computed instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from sandbox.google.errors import GoogleApiError
from sandbox.google.times import EventTime, parse_event_time

__all__ = ["MAX_INSTANCES", "instance_id", "instance_resource", "original_starts", "split_instance_id"]

# Google stops expanding unbounded series somewhere; the sandbox stops after this many instances.
MAX_INSTANCES = 730

_INSTANCE_ID = re.compile(r"^(?P<series>[a-v0-9]+)_(?P<stamp>\d{8}(?:T\d{6}Z)?)$")
_UNTIL_DATE = re.compile(r"UNTIL=(\d{8})(?=;|$)")


def instance_id(series_id: str, original: EventTime) -> str:
    if original.day is not None:
        return f"{series_id}_{original.day.strftime('%Y%m%d')}"
    assert original.moment is not None
    return f"{series_id}_{original.moment.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def split_instance_id(event_id: str) -> tuple[str, EventTime] | None:
    """The series id and original start encoded in an instance id, if it is one."""
    match = _INSTANCE_ID.match(event_id)
    if match is None:
        return None
    stamp = match["stamp"]
    if "T" in stamp:
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return match["series"], EventTime(None, moment, None)
    return match["series"], EventTime(datetime.strptime(stamp, "%Y%m%d").date(), None, None)


def _rule_lines(lines: list[str], aware: bool, tz: ZoneInfo | None) -> str:
    """dateutil refuses a date-only UNTIL with an aware start: make it the end of that day."""
    if not aware:
        return "\n".join(lines)
    fixed = []
    for line in lines:

        def to_utc(match: re.Match[str]) -> str:
            day = datetime.strptime(match[1], "%Y%m%d").replace(tzinfo=tz or UTC) + timedelta(days=1)
            return "UNTIL=" + (day - timedelta(seconds=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

        fixed.append(_UNTIL_DATE.sub(to_utc, line))
    return "\n".join(fixed)


def _date_list(line: str, first: datetime, tz: ZoneInfo | None) -> list[datetime]:
    """The instants of an RDATE/EXDATE line, in the series' own terms: naive midnights for an
    all-day series, aware instants for a timed one (floating times are in the series' zone)."""
    head, sep, values = line.partition(":")
    if not sep:
        raise ValueError(f"no values in {line!r}")
    params = {}
    for part in head.split(";")[1:]:
        key, _, value = part.partition("=")
        params[key.upper()] = value
    zone_name = params.get("TZID")
    value_zone = ZoneInfo(zone_name) if zone_name else tz
    found = []
    for raw in values.split(","):
        raw = raw.strip().split("/", 1)[0]  # a PERIOD value starts where its start says
        if len(raw) == 8:
            day = datetime.strptime(raw, "%Y%m%d")
            moment = day if first.tzinfo is None else first.replace(day.year, day.month, day.day)
        elif raw.endswith("Z"):
            moment = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            moment = datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=value_zone or UTC)
        if first.tzinfo is None:  # an all-day series: the date is what counts
            local = moment.astimezone(value_zone or UTC) if moment.tzinfo is not None else moment
            moment = datetime(local.year, local.month, local.day)
        elif tz is not None:
            moment = moment.astimezone(tz)
        found.append(moment)
    return found


def original_starts(series: dict[str, Any]) -> Iterator[EventTime]:
    """The series' occurrence starts in order: RRULEs and RDATEs, less EXRULEs and EXDATEs, at
    most MAX_INSTANCES. (dateutil's own parser refuses RDATE;TZID=..., so the date lists are read
    here and handed to an `rruleset`.)"""
    start = parse_event_time(series["start"], "start")
    if start.day is not None:
        first: datetime = datetime(start.day.year, start.day.month, start.day.day)
        tz = None
    else:
        assert start.moment is not None
        tz = start.tz
        first = start.moment.astimezone(tz) if tz is not None else start.moment
    rules = rruleset()
    try:
        for line in series.get("recurrence", []):
            name = line.split(":", 1)[0].split(";", 1)[0].upper()
            if name in {"RRULE", "EXRULE"}:
                text = _rule_lines([line.split(":", 1)[1]], first.tzinfo is not None, tz)
                rule = rrulestr(text, dtstart=first)
                (rules.rrule if name == "RRULE" else rules.exrule)(rule)
            elif name in {"RDATE", "EXDATE"}:
                for moment in _date_list(line, first, tz):
                    (rules.rdate if name == "RDATE" else rules.exdate)(moment)
            elif name != "DTSTART":
                raise ValueError(f"unknown recurrence line {name}")
    except (ValueError, TypeError, KeyError) as exc:
        raise GoogleApiError.bad_request("Invalid recurrence rule.") from exc
    for count, occurrence in enumerate(rules):
        if count >= MAX_INSTANCES:
            return
        if start.day is not None:
            yield EventTime(date(occurrence.year, occurrence.month, occurrence.day), None, None)
        else:
            yield EventTime(None, occurrence, tz)


def instance_resource(series: dict[str, Any], original: EventTime, fallback: ZoneInfo) -> dict[str, Any]:
    """A computed (unmodified) instance of `series` starting at `original`."""
    start = parse_event_time(series["start"], "start")
    end = parse_event_time(series["end"], "end")
    duration = end.instant(fallback) - start.instant(fallback)
    instance = {key: value for key, value in series.items() if key != "recurrence"}
    instance["id"] = instance_id(series["id"], original)
    instance["recurringEventId"] = series["id"]
    if original.day is not None:
        instance["start"] = original.render()
        instance["end"] = EventTime(original.day + timedelta(days=duration.days), None, None).render()
        instance["originalStartTime"] = original.render()
    else:
        tz = start.tz
        instance["start"] = EventTime(None, original.moment, tz).render(fallback)
        assert original.moment is not None
        instance["end"] = EventTime(None, original.moment + duration, end.tz or tz).render(fallback)
        instance["originalStartTime"] = EventTime(None, original.moment, tz).render(fallback)
    return instance
