"""A representative event for the provider benchmarks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from calbridge.model import Body, Event, Timed

_BERLIN = ZoneInfo("Europe/Berlin")


def sample_event() -> Event:
    return Event(
        id="bench-source",
        span=Timed(
            datetime(2026, 12, 1, 10, tzinfo=_BERLIN),
            datetime(2026, 12, 1, 11, tzinfo=_BERLIN),
            "Europe/Berlin",
        ),
        title="Quarterly planning",
        description=Body("Agenda:\n1. Numbers\n2. Hiring"),
        location="Room 4.12",
        reminders=(10,),
    )
