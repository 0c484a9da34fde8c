"""Events and stamps shared by the adapter tests."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from calbridge.model import AllDay, Event, EventStatus, InstanceOf, Recurrence, Timed
from calbridge.providers.base import MirrorStamp

ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"


def stamp(source: str = "src-1", pair: str = "pair-1") -> MirrorStamp:
    return MirrorStamp(pair_id=pair, source_id=source)


def meeting(title: str = "Planning", *, zone: str = "Europe/Berlin", day: str = "2026-12-01") -> Event:
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=tz)
    end = datetime.fromisoformat(f"{day}T11:00:00").replace(tzinfo=tz)
    return Event(id="source-event", span=Timed(start, end, zone), title=title)


def all_day(title: str = "Offsite") -> Event:
    return Event(id="source-day", span=AllDay(date(2026, 12, 24), date(2026, 12, 26)), title=title)


def series(title: str = "Standup", *, zone: str = "Europe/Berlin", count: int = 10) -> Event:
    """A daily series starting 2026-10-20 10:00 local, across the October DST change."""
    tz = ZoneInfo(zone)
    start = datetime(2026, 10, 20, 10, tzinfo=tz)
    return Event(
        id="source-series",
        span=Timed(start, start.replace(minute=15), zone),
        title=title,
        recurrence=Recurrence((f"RRULE:FREQ=DAILY;COUNT={count}",)),
    )


def occurrence(master_id: str, day: int, *, moved_to: int | None = None, cancelled: bool = False) -> Event:
    """An occurrence change of `series()`: the one of October `day`, moved to 15:00 or cancelled."""
    tz = ZoneInfo("Europe/Berlin")
    original = datetime(2026, 10, day, 10, tzinfo=tz)
    start = original.replace(hour=moved_to) if moved_to is not None else original
    return Event(
        id=f"source-series-{day}",
        span=Timed(start, start.replace(minute=15), "Europe/Berlin"),
        title="Standup (moved)",
        status=EventStatus.CANCELLED if cancelled else EventStatus.CONFIRMED,
        instance_of=InstanceOf(master_id, original),
    )
