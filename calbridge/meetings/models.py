"""The meeting list's HTTP query and answer, as pydantic models (they also make the OpenAPI
schema). The query is validated like a free/busy request (`calbridge.freebusy.models`): a
plausible address, aware times or an IANA zone, start before end, the window within the limits.
Without `start` the window starts now; without `end` it lasts a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from calbridge.events import Provider
from calbridge.freebusy.models import ErrorBody, Limits, OofBody, check_addresses, check_zone, checked_window
from calbridge.freebusy.types import AddressError, Window
from calbridge.meetings.types import Meeting, PersonMeetings

__all__ = ["DEFAULT_SPAN", "MeetingBody", "MeetingsQuery", "MeetingsResponse", "render_meetings"]

DEFAULT_SPAN = timedelta(days=1)


def _limits(info: ValidationInfo) -> Limits:
    context = info.context or {}
    limits = context.get("limits") if isinstance(context, dict) else None
    return limits if isinstance(limits, Limits) else Limits()


def _now(info: ValidationInfo) -> datetime:
    context = info.context or {}
    now = context.get("now") if isinstance(context, dict) else None
    return now if isinstance(now, datetime) else datetime.now(UTC)


class MeetingsQuery(BaseModel):
    """Whose meetings, and when (the query string of `GET /v1/meetings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    address: str = Field(max_length=320, description="The person's SMTP address, on any suite.")
    start: datetime | None = Field(default=None, description="Start of the window (RFC 3339); default now.")
    end: datetime | None = Field(default=None, description="End of the window; default a day after start.")
    time_zone: str | None = Field(
        default=None, alias="timeZone", description="IANA zone of the answer (and of times without offset)."
    )

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return check_zone(value)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        address = value.strip().lower()
        check_addresses([address])
        return address

    @model_validator(mode="after")
    def _check_window(self, info: ValidationInfo) -> MeetingsQuery:
        zone = ZoneInfo(self.time_zone or "UTC")
        start = self.start or _now(info).astimezone(zone)
        end = self.end or (start.replace(tzinfo=zone) if start.tzinfo is None else start) + DEFAULT_SPAN
        start, end = checked_window(start, end, self.time_zone, _limits(info))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        return self

    def window(self) -> Window:
        assert self.start is not None and self.end is not None  # filled in by validation
        zone = ZoneInfo(self.time_zone or "UTC")
        return Window(self.start.astimezone(zone), self.end.astimezone(zone))


class MeetingBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    title: str = Field(description='The title, or "Busy" where privacy requires (`private`).')
    start: datetime | date = Field(description="A date for an all-day meeting.")
    end: datetime | date = Field(description="Exclusive; a date for an all-day meeting.")
    all_day: bool = Field(alias="allDay")
    organizer: str | None = None
    location: str | None = None
    join_url: str | None = Field(default=None, alias="joinUrl", description="Meet, Teams, Zoom or Webex.")
    provider: Provider = Field(description="Where the original was read (a mirror's is in `alsoOn`).")
    private: bool = Field(description="Shown as busy: a private event, or one across a busy-only pair.")
    also_on: list[Provider] = Field(default_factory=list, alias="alsoOn", description="Mirrors' providers.")


class MeetingsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    address: str
    start: datetime
    end: datetime
    time_zone: str = Field(alias="timeZone")
    meetings: list[MeetingBody] = Field(description="Sorted by start; an event and its mirrors once.")
    oof: OofBody | None = Field(default=None, description="Out-of-office now; absent if no suite could tell.")
    unavailable: list[Provider] = Field(
        default_factory=list, description="Providers whose calendars could not be read: the list is partial."
    )
    error: ErrorBody | None = Field(default=None, description="Why no meeting could be listed at all.")


def _body(meeting: Meeting, zone: ZoneInfo) -> dict[str, Any]:
    def shown(value: datetime | date) -> datetime | date:
        return value.astimezone(zone) if isinstance(value, datetime) else value

    return {
        "title": meeting.title,
        "start": shown(meeting.start),
        "end": shown(meeting.end),
        "allDay": meeting.all_day,
        "organizer": meeting.organizer,
        "location": meeting.location,
        "joinUrl": meeting.join_url,
        "provider": meeting.provider,
        "private": meeting.private,
        "alsoOn": list(meeting.also_on),
    }


def render_meetings(query: MeetingsQuery, outcome: PersonMeetings | AddressError) -> MeetingsResponse:
    window = query.window()
    zone = window.zone
    base: dict[str, Any] = {
        "address": query.address,
        "start": window.start,
        "end": window.end,
        "timeZone": str(zone),
    }
    if isinstance(outcome, AddressError):
        error = ErrorBody(code=outcome.code, message=outcome.detail, retryAfter=outcome.retry_after)
        return MeetingsResponse(**base, meetings=[], error=error)
    return MeetingsResponse(
        **base,
        meetings=[MeetingBody.model_validate(_body(m, zone)) for m in outcome.meetings],
        oof=OofBody.of(outcome.oof, zone) if outcome.oof is not None else None,
        unavailable=list(outcome.unavailable),
    )
