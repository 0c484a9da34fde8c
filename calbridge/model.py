"""Event: the provider-neutral calendar event that translation code maps to and from.

Plain frozen dataclasses: no I/O, no provider ids beyond the event's own, no versions (those
travel beside an Event, in the provider layer's `Fetched`). `content_hash` covers exactly the
fields a person would call "the meeting changed".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import orjson

__all__ = [
    "NOT_MIRRORED",
    "WORKING_LOCATION",
    "AllDay",
    "Attendee",
    "Body",
    "Event",
    "EventStatus",
    "InstanceOf",
    "MeetingProvider",
    "OnlineMeeting",
    "Person",
    "Recurrence",
    "Response",
    "Sensitivity",
    "ShowAs",
    "Span",
    "Timed",
    "content_hash",
]

# `Event.extra` key a translator sets on an event that is never mirrored, with the reason as
# its value (a Google birthday, a working location): the planner skips it and counts it.
NOT_MIRRORED = "not_mirrored"
# `Event.extra` key a translator sets on a working location (where the person works that day):
# mirrored as a free marker only by pairs that ask for it, else skipped like NOT_MIRRORED.
WORKING_LOCATION = "working_location"


class ShowAs(StrEnum):
    FREE = "free"
    BUSY = "busy"
    TENTATIVE = "tentative"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"


class Sensitivity(StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Response(StrEnum):
    NEEDS_ACTION = "needsAction"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class Timed:
    """A span at clock times. `start`/`end` are timezone-aware; `zone` is the IANA zone the
    event was scheduled in (it decides how a recurrence follows daylight-saving changes)."""

    start: datetime
    end: datetime
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Timed start and end must be timezone-aware")
        # In UTC: within one zone Python compares wall times and ignores `fold`, so 01:30 EDT to
        # 01:15 EST (45 minutes on a fall-back night) would look like an end before its start.
        if self.end.astimezone(UTC) < self.start.astimezone(UTC):
            raise ValueError("Timed end is before start")
        ZoneInfo(self.zone)  # raises for a name that is not an IANA zone


@dataclass(frozen=True, slots=True)
class AllDay:
    """A span of whole days, `end` exclusive (as both Google and Graph express it)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or isinstance(self.end, datetime):
            raise ValueError("AllDay takes dates, not datetimes")
        if self.end <= self.start:
            raise ValueError("AllDay end must be after start (end is exclusive)")


Span = Timed | AllDay


@dataclass(frozen=True, slots=True)
class Body:
    content: str
    html: bool = False


@dataclass(frozen=True, slots=True)
class Person:
    address: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Attendee:
    address: str
    name: str | None = None
    response: Response = Response.NEEDS_ACTION
    optional: bool = False
    resource: bool = False  # a room or equipment


class MeetingProvider(StrEnum):
    """Who hosts an online meeting (the values are Google's and Graph's own names where they have one)."""

    GOOGLE_MEET = "googleMeet"
    TEAMS = "teamsForBusiness"
    ZOOM = "zoom"
    WEBEX = "webex"
    SIP = "sip"  # only a SIP URI: a video device's address
    OTHER = "other"

    @classmethod
    def named(cls, value: object) -> MeetingProvider:
        try:
            return cls(str(value))
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True, slots=True)
class OnlineMeeting:
    """An event's join information: who hosts it, the join URL, and a SIP URI where one is known.

    An empty `join_url` is a meeting *asked for* (a keyword in the location) and not made yet:
    the adapter of the provider that hosts it creates it on write (docs/hybrid.md)."""

    provider: MeetingProvider
    join_url: str
    sip: str | None = None

    @property
    def requested(self) -> bool:
        return not self.join_url


@dataclass(frozen=True, slots=True)
class Recurrence:
    """RFC 5545 lines, e.g. ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "EXDATE;TZID=Europe/Paris:20250106T090000")."""

    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InstanceOf:
    """Marks an exception of a series: the master's provider id and the occurrence's original start."""

    master_id: str
    original_start: datetime | date


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    span: Span
    title: str = ""
    description: Body | None = None
    location: str | None = None
    status: EventStatus = EventStatus.CONFIRMED
    show_as: ShowAs = ShowAs.BUSY
    sensitivity: Sensitivity = Sensitivity.NORMAL
    recurrence: Recurrence | None = None
    instance_of: InstanceOf | None = None
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    reminders: tuple[int, ...] | None = None  # minutes before start; None = the calendar's default
    online_meeting: OnlineMeeting | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_all_day(self) -> bool:
        return isinstance(self.span, AllDay)

    @property
    def cancelled(self) -> bool:
        return self.status is EventStatus.CANCELLED


def _span_fingerprint(span: Span) -> dict[str, Any]:
    if isinstance(span, AllDay):
        return {"all_day": [span.start.isoformat(), span.end.isoformat()]}
    # Instants compared in UTC, so the same meeting read back in another display zone hashes equal.
    return {
        "start": span.start.astimezone(ZoneInfo("UTC")).isoformat(),
        "end": span.end.astimezone(ZoneInfo("UTC")).isoformat(),
        "zone": span.zone,
    }


def content_hash(event: Event) -> str:
    """A stable hash over the meaningful fields: equal for the same meeting on either side."""
    fingerprint: dict[str, Any] = {
        "title": event.title.strip(),
        "description": None
        if event.description is None or not event.description.content.strip()
        else [event.description.content.strip(), event.description.html],
        "location": (event.location or "").strip() or None,
        "status": event.status.value,
        "show_as": event.show_as.value,
        "sensitivity": event.sensitivity.value,
        "recurrence": sorted(event.recurrence.rules) if event.recurrence else None,
        "attendees": sorted([a.address.lower(), a.optional, a.resource] for a in event.attendees),
        "reminders": sorted(event.reminders) if event.reminders is not None else None,
        "online_meeting": event.online_meeting.join_url if event.online_meeting else None,
        **_span_fingerprint(event.span),
    }
    return hashlib.sha256(orjson.dumps(fingerprint, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
