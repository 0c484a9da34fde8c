"""Google recurrence lines (RFC 5545) <-> Graph `patternedRecurrence`.

What maps, exactly (both ways, and round-trips in the canonical spelling `rrule_lines` writes):

- ``FREQ=DAILY[;INTERVAL=n]``                                   <-> ``daily``
- ``FREQ=WEEKLY[;INTERVAL=n;WKST=d];BYDAY=MO,WE``               <-> ``weekly`` (daysOfWeek, firstDayOfWeek)
- ``FREQ=MONTHLY;BYMONTHDAY=d`` (1 <= d <= 28)                  <-> ``absoluteMonthly``
- ``FREQ=MONTHLY;BYDAY=2TU`` / ``BYDAY=MO,TU;BYSETPOS=-1``      <-> ``relativeMonthly`` (first..fourth, last)
- ``FREQ=YEARLY;BYMONTH=m;BYMONTHDAY=d``                        <-> ``absoluteYearly``
- ``FREQ=YEARLY;BYMONTH=m;BYDAY=-1SU``                          <-> ``relativeYearly``
- range: ``COUNT=n`` <-> ``numbered``; ``UNTIL`` <-> ``endDate`` (the last local date an occurrence
  may fall on, in ``recurrenceTimeZone``); neither <-> ``noEnd``.

Accepted on the way in and written back in the canonical spelling: ``FREQ=DAILY;BYDAY=<days>``
(becomes weekly), ``BYDAY=TU;BYSETPOS=2`` (becomes ``2TU``), rules without BYDAY/BYMONTHDAY
(the start supplies them), UNTIL as a UTC time, a floating local time or a date.

EXDATE lines are not part of a Graph pattern: Graph has no excluded dates on a series master,
only deleted occurrences. `excluded_starts` lists them so the engine deletes those occurrences
on the Microsoft side after writing the series (`processor/sync/apply.py`; the mirror's facts
keep the lines, see `stamps`).

Everything else raises `UnsupportedRecurrence` with the reason; the engine then mirrors the
series by a fallback (`fallback.plan_fallback`: several native series, or its occurrences as
single events; `processor/sync/series.py`). That covers: several RRULEs, EXRULE, RDATE,
HOURLY/MINUTELY/SECONDLY, BYHOUR/BYMINUTE/BYSECOND/BYWEEKNO/BYYEARDAY, lists of BYMONTH or
BYMONTHDAY, negative BYMONTHDAY, yearly BYMONTHDAY/BYDAY without BYMONTH (RFC 5545 repeats
them in every month or across the year), BYMONTHDAY 29-31 (RFC 5545 skips short months, Outlook
moves the occurrence to the month's last day: a silent shift), ordinals 5/-2.., BYSETPOS lists or with
BYMONTHDAY, ordinals in weekly rules, daily rules with BYDAY and an interval, and a start that
is not itself an occurrence of the rule (Graph would start at the first match instead).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from calbridge.translate.errors import UnsupportedRecurrence

__all__ = ["excluded_starts", "graph_recurrence", "rrule_lines"]

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TO_NAME = dict(zip(_DAYS, _DAY_NAMES, strict=True))
_TO_CODE = dict(zip(_DAY_NAMES, _DAYS, strict=True))
_INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_ORDINAL = {name: number for number, name in _INDEX.items()}
_KNOWN_KEYS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}
)


def graph_recurrence(
    rules: tuple[str, ...], first: datetime | date, *, zone: str, windows_zone: str
) -> dict[str, Any]:
    """The Graph `patternedRecurrence` for a series whose first occurrence starts at `first`
    (local wall time in `zone`, or a date for all-day series). Raises UnsupportedRecurrence."""
    rrule = _single_rrule(rules)
    parts = _parse_parts(rrule)
    local_first = first.astimezone(ZoneInfo(zone)) if isinstance(first, datetime) else first
    pattern = _pattern(parts, _as_date(local_first))
    _require_start_is_occurrence(parts, local_first)
    return {"pattern": pattern, "range": _range(parts, local_first, zone=zone, windows_zone=windows_zone)}


def rrule_lines(recurrence: dict[str, Any], *, zone: str, all_day: bool) -> tuple[str, ...]:
    """The canonical RRULE line for a Graph `patternedRecurrence`; `zone` is the IANA zone of
    `range.recurrenceTimeZone` (UNTIL is the end of `endDate` there, in UTC)."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    kind = pattern["type"]
    interval = int(pattern.get("interval") or 1)
    freq = {
        "daily": "DAILY",
        "weekly": "WEEKLY",
        "absoluteMonthly": "MONTHLY",
        "relativeMonthly": "MONTHLY",
        "absoluteYearly": "YEARLY",
        "relativeYearly": "YEARLY",
    }.get(kind)
    if freq is None:
        raise UnsupportedRecurrence(f"unknown Graph pattern type {kind!r}")
    out = [f"FREQ={freq}"]
    if interval > 1:
        out.append(f"INTERVAL={interval}")
    days = _codes(pattern.get("daysOfWeek") or [])
    if kind == "weekly":
        if interval > 1:
            out.append(f"WKST={_TO_CODE[str(pattern.get('firstDayOfWeek') or 'sunday').lower()]}")
        out.append("BYDAY=" + ",".join(days))
    if kind in ("absoluteYearly", "relativeYearly"):
        out.append(f"BYMONTH={int(pattern['month'])}")
    if kind in ("absoluteMonthly", "absoluteYearly"):
        out.append(f"BYMONTHDAY={int(pattern['dayOfMonth'])}")
    if kind in ("relativeMonthly", "relativeYearly"):
        ordinal = _ORDINAL[str(pattern.get("index") or "first").lower()]
        if len(days) == 1:
            out.append(f"BYDAY={ordinal}{days[0]}")
        else:
            out.append("BYDAY=" + ",".join(days))
            out.append(f"BYSETPOS={ordinal}")
    range_type = str(rng.get("type", "noEnd")).lower()
    if range_type == "numbered":
        out.append(f"COUNT={int(rng['numberOfOccurrences'])}")
    elif range_type == "enddate":
        end = date.fromisoformat(str(rng["endDate"])[:10])
        if all_day:
            out.append(f"UNTIL={end:%Y%m%d}")
        else:
            until = datetime.combine(end, time(23, 59, 59), ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))
            out.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    return ("RRULE:" + ";".join(out),)


def excluded_starts(rules: tuple[str, ...], zone: str) -> tuple[datetime | date, ...]:
    """The original starts removed by EXDATE lines (aware datetimes, or dates for all-day series)."""
    found: list[datetime | date] = []
    for line in rules:
        head, _, values = line.partition(":")
        name, *params = head.split(";")
        if name.upper() != "EXDATE":
            continue
        options = dict(p.split("=", 1) for p in params if "=" in p)
        tz = ZoneInfo(options.get("TZID", zone))
        for value in values.split(","):
            found.append(_parse_moment(value.strip(), tz))
    return tuple(found)


def _single_rrule(rules: tuple[str, ...]) -> str:
    rrules: list[str] = []
    for line in rules:
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name == "RRULE":
            rrules.append(line.split(":", 1)[1])
        elif name in ("RDATE", "EXRULE"):
            raise UnsupportedRecurrence(f"{name} has no Graph equivalent")
        elif name != "EXDATE":
            raise UnsupportedRecurrence(f"unknown recurrence line {name}")
    if len(rrules) != 1:
        raise UnsupportedRecurrence(f"{len(rrules)} RRULE lines; Graph holds exactly one pattern")
    return rrules[0]


def _parse_parts(rrule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in rrule.split(";"):
        key, sep, value = item.partition("=")
        key = key.strip().upper()
        if not sep or key in parts:
            raise UnsupportedRecurrence(f"malformed RRULE part {item!r}")
        if key not in _KNOWN_KEYS:
            raise UnsupportedRecurrence(f"{key} has no Graph equivalent")
        parts[key] = value.strip().upper()
    if "COUNT" in parts and "UNTIL" in parts:
        raise UnsupportedRecurrence("both COUNT and UNTIL")
    return parts


def _pattern(parts: dict[str, str], first: date) -> dict[str, Any]:
    freq = parts.get("FREQ")
    interval = _positive(parts.get("INTERVAL", "1"), "INTERVAL")
    byday = _byday(parts["BYDAY"]) if "BYDAY" in parts else []
    setpos = parts.get("BYSETPOS")
    if freq == "DAILY":
        if not byday and not _has(parts, "BYMONTH", "BYMONTHDAY", "BYSETPOS"):
            return {"type": "daily", "interval": interval}
        if byday and interval == 1 and not _has(parts, "BYMONTH", "BYMONTHDAY", "BYSETPOS"):
            return _weekly(byday, 1, parts)  # "every weekday" is a weekly pattern in Graph
        raise UnsupportedRecurrence("daily rule with BY* parts other than BYDAY at interval 1")
    if freq == "WEEKLY":
        if _has(parts, "BYMONTH", "BYMONTHDAY", "BYSETPOS"):
            raise UnsupportedRecurrence("weekly rule with BYMONTH/BYMONTHDAY/BYSETPOS")
        return _weekly(byday or [(None, _DAYS[first.weekday()])], interval, parts)
    if freq == "MONTHLY":
        if "BYMONTH" in parts:
            raise UnsupportedRecurrence("monthly rule limited to some months")
        relative = _relative(byday, setpos, parts)
        if relative:
            return {"type": "relativeMonthly", "interval": interval, **relative}
        day = _month_day(parts.get("BYMONTHDAY"), first.day, limit=28)
        return {"type": "absoluteMonthly", "interval": interval, "dayOfMonth": day}
    if freq == "YEARLY":
        if "BYMONTH" not in parts and (byday or "BYMONTHDAY" in parts):
            # RFC 5545: without BYMONTH these expand over every month (BYMONTHDAY) or the whole
            # year (BYDAY=1MO is the year's first Monday), not within the start's month.
            raise UnsupportedRecurrence("yearly rule with BYMONTHDAY or BYDAY but no BYMONTH")
        month = _positive(parts.get("BYMONTH", str(first.month)), "BYMONTH")
        if month > 12:
            raise UnsupportedRecurrence("BYMONTH out of range")
        relative = _relative(byday, setpos, parts)
        if relative:
            return {"type": "relativeYearly", "interval": interval, "month": month, **relative}
        day = _month_day(parts.get("BYMONTHDAY"), first.day, limit=calendar.monthrange(2001, month)[1])
        return {"type": "absoluteYearly", "interval": interval, "month": month, "dayOfMonth": day}
    raise UnsupportedRecurrence(f"FREQ={freq} has no Graph equivalent")


def _weekly(byday: list[tuple[int | None, str]], interval: int, parts: dict[str, str]) -> dict[str, Any]:
    if any(ordinal is not None for ordinal, _ in byday):
        raise UnsupportedRecurrence("ordinal BYDAY in a weekly rule")
    wkst = parts.get("WKST", "MO")
    if wkst not in _TO_NAME:
        raise UnsupportedRecurrence(f"WKST={wkst}")
    return {
        "type": "weekly",
        "interval": interval,
        "daysOfWeek": _names(day for _, day in byday),
        "firstDayOfWeek": _TO_NAME[wkst],
    }


def _relative(
    byday: list[tuple[int | None, str]], setpos: str | None, parts: dict[str, str]
) -> dict[str, Any]:
    if not byday:
        if setpos is not None:
            raise UnsupportedRecurrence("BYSETPOS without BYDAY")
        return {}
    if "BYMONTHDAY" in parts:
        raise UnsupportedRecurrence("BYDAY combined with BYMONTHDAY")
    if setpos is None:
        if len(byday) != 1 or byday[0][0] is None:
            raise UnsupportedRecurrence("BYDAY needs exactly one ordinal day (or BYSETPOS) here")
        ordinal = byday[0][0]
    else:
        if any(o is not None for o, _ in byday) or "," in setpos:
            raise UnsupportedRecurrence("BYSETPOS with a list or with ordinal days")
        ordinal = int(setpos)
    if ordinal not in _INDEX:
        raise UnsupportedRecurrence(f"occurrence index {ordinal}; Graph has first..fourth and last")
    return {"daysOfWeek": _names(day for _, day in byday), "index": _INDEX[ordinal]}


def _range(parts: dict[str, str], first: datetime | date, *, zone: str, windows_zone: str) -> dict[str, Any]:
    start = _as_date(first)
    base = {"startDate": start.isoformat(), "recurrenceTimeZone": windows_zone}
    if "COUNT" in parts:
        return {"type": "numbered", "numberOfOccurrences": _positive(parts["COUNT"], "COUNT"), **base}
    if "UNTIL" in parts:
        until = _parse_moment(parts["UNTIL"], ZoneInfo(zone))
        if isinstance(until, datetime):
            local = until.astimezone(ZoneInfo(zone))
            last = local.date()
            if isinstance(first, datetime) and local.time() < first.time():
                last -= timedelta(days=1)  # that day's occurrence would start after UNTIL
        else:
            last = until
        return {"type": "endDate", "endDate": last.isoformat(), **base}
    return {"type": "noEnd", **base}


def _require_start_is_occurrence(parts: dict[str, str], first: datetime | date) -> None:
    # Google's series always includes its start; Graph starts at the first date matching the pattern.
    rule = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
    start = datetime.combine(_as_date(first), first.time() if isinstance(first, datetime) else time())
    try:
        occurrence = rrulestr(rule, dtstart=start).after(start, inc=True)
    except ValueError as exc:
        raise UnsupportedRecurrence(f"unreadable RRULE: {exc}") from exc
    if occurrence != start:
        raise UnsupportedRecurrence("the series start is not an occurrence of its rule")


def _byday(value: str) -> list[tuple[int | None, str]]:
    out: list[tuple[int | None, str]] = []
    for item in value.split(","):
        day = item[-2:]
        if day not in _TO_NAME:
            raise UnsupportedRecurrence(f"BYDAY value {item!r}")
        prefix = item[:-2]
        try:
            out.append((int(prefix) if prefix else None, day))
        except ValueError as exc:
            raise UnsupportedRecurrence(f"BYDAY value {item!r}") from exc
    return out


def _month_day(value: str | None, default: int, *, limit: int) -> int:
    if value is None:
        day = default
    elif "," in value:
        raise UnsupportedRecurrence("several BYMONTHDAY values")
    else:
        try:
            day = int(value)
        except ValueError as exc:
            raise UnsupportedRecurrence(f"BYMONTHDAY={value}") from exc
    if not 1 <= day <= limit:
        raise UnsupportedRecurrence(f"day of month {day}: months without it are skipped, not shifted")
    return day


def _positive(value: str, key: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise UnsupportedRecurrence(f"{key}={value}") from exc
    if number < 1:
        raise UnsupportedRecurrence(f"{key}={value}")
    return number


def _has(parts: dict[str, str], *keys: str) -> bool:
    return any(k in parts for k in keys)


def _names(days: Any) -> list[str]:
    codes = sorted(set(days), key=_DAYS.index)
    return [_TO_NAME[c] for c in codes]


def _codes(names: list[str]) -> list[str]:
    return sorted({_TO_CODE[n.lower()] for n in names}, key=_DAYS.index)


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _parse_moment(value: str, tz: ZoneInfo) -> datetime | date:
    if len(value) == 8:
        return datetime.strptime(value, "%Y%m%d").date()
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=ZoneInfo("UTC"))
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
