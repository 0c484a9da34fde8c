"""Expand an EWS Recurrence element (pattern + range) into occurrence start times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil import rrule
from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP
from lxml import etree

from sandbox.ews.soap import t

__all__ = ["expand", "zone_for"]

_DAYS = {
    "Monday": rrule.MO,
    "Tuesday": rrule.TU,
    "Wednesday": rrule.WE,
    "Thursday": rrule.TH,
    "Friday": rrule.FR,
    "Saturday": rrule.SA,
    "Sunday": rrule.SU,
}
_GROUPS = {
    "Day": list(_DAYS.values()),
    "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    "WeekendDay": [rrule.SA, rrule.SU],
}
_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_MONTHS = {
    n: i
    for i, n in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        start=1,
    )
}
MAX_OCCURRENCES = 1000


def zone_for(ms_id: str | None) -> ZoneInfo:
    """The IANA zone for a Windows time-zone id (UTC when unknown)."""
    return ZoneInfo(MS_TIMEZONE_TO_IANA_MAP.get(ms_id or "UTC", "UTC"))


def _text(elem: etree._Element, name: str, default: str = "") -> str:
    child = elem.find(t(name))
    return default if child is None or child.text is None else child.text.strip()


def _weekdays(elem: etree._Element) -> list[rrule.weekday]:
    days: list[rrule.weekday] = []
    for name in _text(elem, "DaysOfWeek").split():
        days.extend(_GROUPS.get(name, [_DAYS[name]] if name in _DAYS else []))
    return days


def _rule_kwargs(pattern: etree._Element) -> dict[str, object]:
    kind = etree.QName(pattern).localname
    interval = int(_text(pattern, "Interval", "1"))
    if kind == "DailyRecurrence":
        return {"freq": rrule.DAILY, "interval": interval}
    if kind == "WeeklyRecurrence":
        wkst = _DAYS.get(_text(pattern, "FirstDayOfWeek", "Monday"), rrule.MO)
        return {"freq": rrule.WEEKLY, "interval": interval, "byweekday": _weekdays(pattern), "wkst": wkst}
    if kind == "AbsoluteMonthlyRecurrence":
        return {"freq": rrule.MONTHLY, "interval": interval, "bymonthday": int(_text(pattern, "DayOfMonth"))}
    if kind == "RelativeMonthlyRecurrence":
        return {
            "freq": rrule.MONTHLY,
            "interval": interval,
            "byweekday": _weekdays(pattern),
            "bysetpos": _INDEX[_text(pattern, "DayOfWeekIndex", "First")],
        }
    if kind == "AbsoluteYearlyRecurrence":
        return {
            "freq": rrule.YEARLY,
            "bymonth": _MONTHS[_text(pattern, "Month")],
            "bymonthday": int(_text(pattern, "DayOfMonth")),
        }
    if kind == "RelativeYearlyRecurrence":
        return {
            "freq": rrule.YEARLY,
            "bymonth": _MONTHS[_text(pattern, "Month")],
            "byweekday": _weekdays(pattern),
            "bysetpos": _INDEX[_text(pattern, "DayOfWeekIndex", "First")],
        }
    raise ValueError(f"unsupported recurrence pattern {kind}")


def expand(
    recurrence: etree._Element, first_start: datetime, zone: ZoneInfo, until: datetime
) -> list[datetime]:
    """Occurrence starts (UTC) in pattern order, index 1 first, none after `until`."""
    pattern = next(
        c
        for c in recurrence
        if etree.QName(c).localname.endswith("Recurrence")
        and not etree.QName(c).localname.startswith(("No", "End", "Numbered"))
    )
    local_start = first_start.astimezone(zone)
    kwargs = _rule_kwargs(pattern)
    count: int | None = MAX_OCCURRENCES
    end_date: date | None = None
    start_date = local_start.date()
    for child in recurrence:
        name = etree.QName(child).localname
        if name in ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence"):
            start_date = date.fromisoformat(_text(child, "StartDate")[:10])
            if name == "NumberedRecurrence":
                count = int(_text(child, "NumberOfOccurrences"))
            if name == "EndDateRecurrence":
                end_date = date.fromisoformat(_text(child, "EndDate")[:10])
    dtstart = datetime.combine(start_date, local_start.time().replace(tzinfo=None))
    rule_until = datetime.combine(end_date, time(23, 59, 59)) if end_date else None
    rule = rrule.rrule(dtstart=dtstart, count=None if rule_until else count, until=rule_until, **kwargs)
    starts: list[datetime] = []
    for naive in rule:
        start = naive.replace(tzinfo=zone).astimezone(UTC)
        if start > until or len(starts) >= MAX_OCCURRENCES:
            break
        starts.append(start)
    return starts
