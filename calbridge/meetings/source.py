"""The one Protocol each provider's meeting reads are reached through.

`events` reads one calendar's events that overlap [start, end), occurrences of series expanded
(Google `events.list` with `singleEvents`, Graph `calendarView`, EWS `FindItem` with a
`CalendarView`), translated by the slice's own translator with calbridge's marks. `oof` reads a
person's out-of-office state now. Both raise `Throttled`, `AccessDenied`, `NotFound` or another
`ProviderError` when the provider refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from calbridge.events import Provider
from calbridge.meetings.oof_mirror import AbsencePort
from calbridge.meetings.types import Oof
from calbridge.providers.base import CalendarAddress, Fetched

__all__ = ["MeetingSource"]


class MeetingSource(AbsencePort, Protocol):
    """A provider's meeting reads, out-of-office state, and (`AbsencePort`) its mirroring."""

    @property
    def provider(self) -> Provider: ...

    async def events(self, calendar: CalendarAddress, start: datetime, end: datetime) -> Sequence[Fetched]:
        """The calendar's events overlapping the window, series expanded into occurrences."""
        ...

    async def oof(self, address: str, now: datetime) -> Oof:
        """The person's out-of-office state at `now`."""
        ...
