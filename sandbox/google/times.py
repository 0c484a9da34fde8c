"""Google's time shapes: RFC 3339 strings and `{date}` / `{dateTime, timeZone}` objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.google.errors import GoogleApiError

__all__ = [
    "EventTime",
    "format_rfc3339",
    "parse_event_time",
    "parse_rfc3339",
    "zone",
]


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise GoogleApiError.bad_request("Invalid time zone definition for start time.", "timeZone") from exc


def parse_rfc3339(value: str, what: str = "time") -> datetime:
    """An RFC 3339 instant with an offset (Google refuses times without one in queries)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise GoogleApiError.bad_request(f"Invalid value for {what}: {value}") from exc
    if parsed.tzinfo is None:
        raise GoogleApiError.bad_request(f"Invalid value for {what}: {value}")
    return parsed


def format_rfc3339(moment: datetime, tz: ZoneInfo | None = None) -> str:
    """Render like Google: in the given zone with its offset, `Z` for UTC, whole seconds."""
    local = moment.astimezone(tz or UTC).replace(microsecond=0)
    if local.utcoffset() == timedelta(0) and (tz is None or tz.key in {"UTC", "Etc/UTC"}):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat()


def format_millis(moment: datetime) -> str:
    """`created` / `updated` timestamps: UTC with milliseconds, as Google sends them."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class EventTime:
    """One end of an event: a date (all-day, exclusive end) or an instant in a zone."""

    day: date | None
    moment: datetime | None  # aware
    tz: ZoneInfo | None  # the event's `timeZone`, if given

    @property
    def all_day(self) -> bool:
        return self.day is not None

    def instant(self, fallback: ZoneInfo) -> datetime:
        """When this time begins, as an aware datetime (dates begin at midnight in `fallback`)."""
        if self.moment is not None:
            return self.moment
        assert self.day is not None
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=fallback)

    def render(self, fallback: ZoneInfo | None = None) -> dict[str, Any]:
        if self.day is not None:
            return {"date": self.day.isoformat()}
        assert self.moment is not None
        shape: dict[str, Any] = {"dateTime": format_rfc3339(self.moment, self.tz or fallback)}
        if self.tz is not None:
            shape["timeZone"] = self.tz.key
        return shape

    def shifted(self, delta: timedelta) -> EventTime:
        if self.day is not None:
            return EventTime(self.day + delta, None, self.tz)
        assert self.moment is not None
        return EventTime(None, self.moment + delta, self.tz)


def parse_event_time(value: Any, field: str) -> EventTime:
    if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
        raise GoogleApiError.bad_request(f"Missing {field} time.", "required")
    tz = zone(value.get("timeZone"))
    if value.get("date"):
        try:
            return EventTime(date.fromisoformat(value["date"]), None, tz)
        except ValueError as exc:
            raise GoogleApiError.bad_request(f"Invalid {field} time.") from exc
    try:
        moment = datetime.fromisoformat(value["dateTime"])
    except ValueError as exc:
        raise GoogleApiError.bad_request(f"Invalid {field} time.") from exc
    if moment.tzinfo is None:
        if tz is None:
            raise GoogleApiError.bad_request(f"Missing time zone definition for {field} time.", "required")
        moment = moment.replace(tzinfo=tz)
    return EventTime(None, moment, tz)
