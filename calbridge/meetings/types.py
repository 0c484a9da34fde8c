"""The data the meeting list speaks in, apart from HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from calbridge.events import Provider
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, Fetched

__all__ = ["BUSY_TITLE", "CalendarRead", "Meeting", "Oof", "PersonCalendar", "PersonMeetings"]

BUSY_TITLE = "Busy"  # what a meeting shows where privacy requires


@dataclass(frozen=True, slots=True)
class Oof:
    """A person's out-of-office state now: `until` is when it ends (None: until turned off)."""

    active: bool
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PersonCalendar:
    """One calendar a person's meetings are read from.

    `detail` is what may be shown of it: `full` for the person's own calendars, the pair's
    detail for a calendar reached across a pair (a busy-only pair shows "Busy" there).
    `pairs` are the ids of the pairs it belongs to: a mirror stamped by one of them is the
    copy of an event on another of the person's calendars."""

    connection: str  # connection name
    provider: Provider
    address: CalendarAddress
    detail: Detail = Detail.FULL
    pairs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CalendarRead:
    """What one calendar holds in the window (events as the slice translated them)."""

    calendar: PersonCalendar
    events: tuple[Fetched, ...]


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting of the list: an event and its mirrors, shown once."""

    title: str
    start: datetime | date  # a date for an all-day meeting
    end: datetime | date
    all_day: bool
    provider: Provider  # where the original (not a mirror) was read
    event_id: str
    organizer: str | None = None
    location: str | None = None
    join_url: str | None = None
    private: bool = False  # shown as "Busy": a private event, or a busy-only pair
    also_on: tuple[Provider, ...] = ()  # where its mirrors were read


@dataclass(frozen=True, slots=True)
class PersonMeetings:
    """A person's meetings in a window; `oof` None when no suite could tell; `unavailable` names
    the providers whose calendars could not be read (the list is then partial)."""

    meetings: tuple[Meeting, ...]
    oof: Oof | None = None
    unavailable: tuple[Provider, ...] = ()
