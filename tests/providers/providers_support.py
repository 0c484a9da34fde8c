"""Events and stamps shared by the adapter tests."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from calbridge.model import AllDay, Event, Timed
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
