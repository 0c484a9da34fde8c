"""RFC 5545 recurrence lines <-> exchangelib `Recurrence` (EWS pattern + boundary).

The rule is first parsed into Graph's `patternedRecurrence` shape by `recurrence.graph_recurrence`
(the neutral structure, with all of its refusals), then converted to the EWS classes; reading goes
the other way through `recurrence.rrule_lines`, so both Microsoft paths spell a series the same.

EWS differs from Graph in three ways, handled here:
- yearly patterns have no interval: "every n years" is written as a monthly pattern every
  12*n months on the same day (what Outlook itself stores), and a monthly pattern whose interval
  is a multiple of 12 reads back as yearly;
- a relative pattern holds ONE `DaysOfWeek` value: a single day, or the groups Day (all seven),
  Weekday (MO-FR) and WeekendDay (SA, SU); any other day set raises UnsupportedRecurrence;
- intervals stop at 99 (999 for daily) and counts at 999.

Deleted occurrences are EXDATE lines (`exdate_lines`): EWS keeps them on the master as
`DeletedOccurrences`, which is exactly RFC 5545's model.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.recurrence import graph_recurrence, rrule_lines

__all__ = ["ews_recurrence", "exdate_lines", "occurrence_index", "rules_from_ews"]

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INDEXES = ("first", "second", "third", "fourth", "last")  # exchangelib week_number 1..5
# exchangelib's DaysOfWeek enum: 1..7 are Monday..Sunday, then Day, Weekday, WeekendDay.
_GROUPS = {
    8: frozenset(_DAY_NAMES),
    9: frozenset(_DAY_NAMES[:5]),
    10: frozenset(_DAY_NAMES[5:]),
}
_MAX_INTERVAL = 99
_MAX_COUNT = 999
_MAX_SCAN = 20_000  # occurrences scanned to find an index (55 years of dailies)


def ews_recurrence(rules: tuple[str, ...], first: datetime | date, *, zone: str) -> Recurrence:
    """The exchangelib Recurrence of a series starting at `first` (wall time in `zone`, or a date
    for all-day series). EXDATE lines are ignored here (see module doc). Raises UnsupportedRecurrence."""
    neutral = graph_recurrence(rules, first, zone=zone, windows_zone="UTC")
    return Recurrence(pattern=_pattern_out(neutral["pattern"]), boundary=_boundary_out(neutral["range"]))


def rules_from_ews(recurrence: Recurrence, *, zone: str, all_day: bool) -> tuple[str, ...]:
    """The canonical RRULE line of an EWS recurrence whose items are in `zone`."""
    neutral = {"pattern": _pattern_in(recurrence), "range": _boundary_in(recurrence.boundary)}
    return rrule_lines(neutral, zone=zone, all_day=all_day)


def exdate_lines(deleted: list[datetime | date], *, zone: str) -> tuple[str, ...]:
    """EXDATE lines for deleted occurrences (their original starts), sorted."""
    tz = ZoneInfo(zone)
    out: list[str] = []
    for moment in sorted(deleted, key=_sort_key):
        if isinstance(moment, datetime):
            out.append(f"EXDATE;TZID={zone}:{moment.astimezone(tz):%Y%m%dT%H%M%S}")
        else:
            out.append(f"EXDATE;VALUE=DATE:{moment:%Y%m%d}")
    return tuple(out)


def occurrence_index(
    recurrence: Recurrence, first: datetime | date, original: datetime | date, *, zone: str
) -> int | None:
    """The 1-based EWS InstanceIndex of the occurrence that starts (originally) at `original` in
    a series whose first occurrence is `first`; deleted occurrences keep their index. None when
    the series has no such occurrence."""
    all_day = not isinstance(first, datetime)
    (rule,) = rules_from_ews(recurrence, zone=zone, all_day=all_day)
    tz = ZoneInfo(zone)
    if isinstance(first, datetime):
        start = _local(first, tz).replace(tzinfo=None)
        wanted = _local(original, tz).replace(tzinfo=None) if isinstance(original, datetime) else None
    else:
        start = datetime.combine(first, time())
        day = _local(original, tz).date() if isinstance(original, datetime) else original
        wanted = datetime.combine(day, time())
    if wanted is None or wanted < start:
        return None
    # UNTIL is UTC in the canonical line; dateutil wants it naive next to a naive start.
    expansion = rrulestr(rule.removeprefix("RRULE:"), dtstart=start, ignoretz=True)
    for index, moment in enumerate(expansion, start=1):
        if moment == wanted:
            return index
        if moment > wanted or index >= _MAX_SCAN:
            return None
    return None


def _pattern_out(p: dict[str, Any]) -> Any:
    kind, interval = p["type"], int(p.get("interval") or 1)
    if kind == "daily":
        if interval > 999:
            raise UnsupportedRecurrence(f"daily interval {interval} over EWS's 999")
        return DailyPattern(interval=interval)
    if kind in ("absoluteYearly", "relativeYearly") and interval > 1:
        # EWS yearly patterns have no interval; every n years is every 12*n months.
        kind, interval = kind.replace("Yearly", "Monthly"), interval * 12
    if interval > _MAX_INTERVAL:
        raise UnsupportedRecurrence(f"interval {interval} over EWS's {_MAX_INTERVAL}")
    if kind == "weekly":
        return WeeklyPattern(
            interval=interval,
            weekdays=[_DAY_NAMES.index(d) + 1 for d in p["daysOfWeek"]],
            first_day_of_week=_DAY_NAMES.index(p.get("firstDayOfWeek", "monday")) + 1,
        )
    if kind == "absoluteMonthly":
        return AbsoluteMonthlyPattern(interval=interval, day_of_month=int(p["dayOfMonth"]))
    if kind == "relativeMonthly":
        return RelativeMonthlyPattern(interval=interval, weekday=_weekday_out(p), week_number=_index_out(p))
    if kind == "absoluteYearly":
        return AbsoluteYearlyPattern(day_of_month=int(p["dayOfMonth"]), month=int(p["month"]))
    if kind == "relativeYearly":
        return RelativeYearlyPattern(
            weekday=_weekday_out(p), week_number=_index_out(p), month=int(p["month"])
        )
    raise UnsupportedRecurrence(f"pattern {kind} has no EWS equivalent")


def _weekday_out(p: dict[str, Any]) -> int:
    days = frozenset(p["daysOfWeek"])
    if len(days) == 1:
        return _DAY_NAMES.index(next(iter(days))) + 1
    for value, group in _GROUPS.items():
        if days == group:
            return value
    raise UnsupportedRecurrence("a relative pattern over a day set other than all days, weekdays or weekend")


def _index_out(p: dict[str, Any]) -> int:
    return _INDEXES.index(str(p.get("index", "first"))) + 1


def _boundary_out(r: dict[str, Any]) -> Any:
    start = date.fromisoformat(r["startDate"])
    if r["type"] == "numbered":
        count = int(r["numberOfOccurrences"])
        if count > _MAX_COUNT:
            raise UnsupportedRecurrence(f"COUNT={count} over EWS's {_MAX_COUNT}")
        return NumberedPattern(start=start, number=count)
    if r["type"] == "endDate":
        return EndDatePattern(start=start, end=date.fromisoformat(r["endDate"]))
    return NoEndPattern(start=start)


def _pattern_in(recurrence: Recurrence) -> dict[str, Any]:
    p = recurrence.pattern
    start = _as_date(recurrence.boundary.start)
    if isinstance(p, DailyPattern):
        return {"type": "daily", "interval": p.interval}
    if isinstance(p, WeeklyPattern):
        return {
            "type": "weekly",
            "interval": p.interval,
            "daysOfWeek": [_DAY_NAMES[d - 1] for d in p.weekdays],
            "firstDayOfWeek": _DAY_NAMES[(p.first_day_of_week or 1) - 1],
        }
    if isinstance(p, AbsoluteMonthlyPattern):
        if p.interval % 12 == 0:
            return {
                "type": "absoluteYearly",
                "interval": p.interval // 12,
                "month": start.month,
                "dayOfMonth": p.day_of_month,
            }
        return {"type": "absoluteMonthly", "interval": p.interval, "dayOfMonth": p.day_of_month}
    if isinstance(p, RelativeMonthlyPattern):
        relative = {"daysOfWeek": _days_in(p.weekday), "index": _INDEXES[p.week_number - 1]}
        if p.interval % 12 == 0:
            return {"type": "relativeYearly", "interval": p.interval // 12, "month": start.month, **relative}
        return {"type": "relativeMonthly", "interval": p.interval, **relative}
    if isinstance(p, AbsoluteYearlyPattern):
        return {"type": "absoluteYearly", "interval": 1, "month": p.month, "dayOfMonth": p.day_of_month}
    if isinstance(p, RelativeYearlyPattern):
        return {
            "type": "relativeYearly",
            "interval": 1,
            "month": p.month,
            "daysOfWeek": _days_in(p.weekday),
            "index": _INDEXES[p.week_number - 1],
        }
    raise UnsupportedRecurrence(
        f"EWS pattern {type(p).__name__} (a task regeneration) is not a calendar rule"
    )


def _days_in(weekday: int) -> list[str]:
    if weekday in _GROUPS:
        return [d for d in _DAY_NAMES if d in _GROUPS[weekday]]
    return [_DAY_NAMES[weekday - 1]]


def _boundary_in(boundary: Any) -> dict[str, Any]:
    start = _as_date(boundary.start).isoformat()
    if isinstance(boundary, NumberedPattern):
        return {"type": "numbered", "numberOfOccurrences": boundary.number, "startDate": start}
    if isinstance(boundary, EndDatePattern):
        return {"type": "endDate", "endDate": _as_date(boundary.end).isoformat(), "startDate": start}
    return {"type": "noEnd", "startDate": start}


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    # Through a timestamp: exchangelib's EWSDateTime refuses stdlib tzinfo in astimezone().
    return datetime.fromtimestamp(moment.timestamp(), tz)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _sort_key(value: datetime | date) -> tuple[int, int, int, float]:
    if isinstance(value, datetime):
        return (value.year, value.month, value.day, value.timestamp())
    return (value.year, value.month, value.day, 0.0)
