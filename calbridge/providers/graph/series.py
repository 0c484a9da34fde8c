"""Which occurrences of a Graph series were cancelled (pure).

Graph v1.0 lists a series' occurrences and exceptions but never its cancelled occurrences: a
deleted occurrence is simply absent (and `@removed` in a delta names only an opaque id). So
the adapter expands the master's pattern over the window and reports every expected original
start that no listed instance claims. Expansion is in the series' own zone on wall-clock time,
as Exchange expands it, so a series keeps its local hour across a DST change.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from calbridge.model import AllDay, Event
from calbridge.translate.recurrence import excluded_starts

__all__ = ["cancelled_starts", "expected_starts"]

_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.I)
_CAP = 2000  # occurrences examined per series and window; Exchange itself expands at most 999


def expected_starts(master: Event, window: tuple[datetime, datetime]) -> list[datetime | date]:
    """The original starts the master's pattern puts inside `window` (aware datetimes in the
    series' zone, or dates for an all-day series), EXDATE lines excluded."""
    if master.recurrence is None:
        return []
    lines = [line for line in master.recurrence.rules if line.upper().startswith("RRULE:")]
    if not lines:
        return []
    span = master.span
    all_day = isinstance(span, AllDay)
    if isinstance(span, AllDay):
        zone, first = "UTC", datetime.combine(span.start, time())
    else:
        zone = span.zone
        first = span.start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    tz = ZoneInfo(zone)
    rule = rrulestr("\n".join(_floating(line, tz) for line in lines), dtstart=first, forceset=True)
    low = window[0].astimezone(tz).replace(tzinfo=None)
    high = window[1].astimezone(tz).replace(tzinfo=None)
    excluded = set(excluded_starts(master.recurrence.rules, zone))
    found: list[datetime | date] = []
    for moment in rule.xafter(low, count=_CAP, inc=True):
        if moment > high:
            break
        start: datetime | date = moment.date() if all_day else moment.replace(tzinfo=tz)
        if start not in excluded:
            found.append(start)
    return found


def cancelled_starts(
    master: Event, listed: list[datetime | date], window: tuple[datetime, datetime]
) -> list[datetime | date]:
    """Expected original starts in `window` that no listed occurrence or exception claims."""
    claimed = {_key(moment) for moment in listed}
    return [moment for moment in expected_starts(master, window) if _key(moment) not in claimed]


def _floating(line: str, tz: ZoneInfo) -> str:
    """UNTIL in UTC, restated as wall time in the series' zone (the start is floating here)."""

    def local(match: re.Match[str]) -> str:
        instant = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return f"UNTIL={instant.astimezone(tz):%Y%m%dT%H%M%S}"

    return _UNTIL_UTC.sub(local, line)


def _key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).isoformat()
    return moment.isoformat()
