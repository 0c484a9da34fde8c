"""An event body as Google accepts and normalizes it: writable fields, validation, attendees,
conference creation, patch merging. Pure functions over dicts (the world does the storing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.google.errors import GoogleApiError
from sandbox.google.times import EventTime, parse_event_time

__all__ = ["TIME_FIELDS", "WRITABLE", "apply_fields", "is_client_id", "merge", "writable"]

WRITABLE = {
    "summary", "description", "location", "colorId", "start", "end", "endTimeUnspecified",
    "recurrence", "transparency", "visibility", "sequence", "attendees",
    "attendeesOmitted", "extendedProperties", "conferenceData", "gadget", "anyoneCanAddSelf",
    "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests", "privateCopy", "locked",
    "reminders", "source", "attachments", "eventType", "status", "workingLocationProperties",
    "outOfOfficeProperties", "focusTimeProperties",
}  # fmt: skip
TIME_FIELDS = ("start", "end", "recurrence", "location")  # a change to these raises `sequence`
_CLIENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


def is_client_id(value: Any) -> bool:
    """base32hex (`a-v`, `0-9`), 5 to 1024 characters, as Google requires of chosen ids."""
    return isinstance(value, str) and bool(_CLIENT_ID.match(value))


def apply_fields(
    event: dict[str, Any],
    body: dict[str, Any],
    *,
    calendar_id: str,
    tz: ZoneInfo,
    conference_version: int,
    meet_code: Callable[[], str],
) -> None:
    """Copy the writable fields of `body` onto `event`, validate, and normalize in place."""
    for key, value in body.items():
        if key not in WRITABLE or (key == "conferenceData" and conference_version < 1):
            continue
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    start = parse_event_time(event.get("start"), "start")
    end = parse_event_time(event.get("end"), "end")
    _check_span(start, end, tz)
    if event.get("recurrence") and start.moment is not None and start.tz is None:
        raise GoogleApiError.bad_request("Missing time zone definition for start time.", "required")
    event["start"] = start.render(tz)
    event["end"] = end.render(tz)
    if event.get("status") not in {"confirmed", "tentative", "cancelled"}:
        raise GoogleApiError.bad_request("Invalid event status.")
    if "attendees" in event:
        event["attendees"] = _attendees(event["attendees"], event["organizer"]["email"], calendar_id)
    _check_extended_properties(event.get("extendedProperties"))
    if "conferenceData" in event and conference_version >= 1:
        event["conferenceData"] = _conference(event["conferenceData"], meet_code)
        for point in event["conferenceData"].get("entryPoints", []):
            if point.get("entryPointType") == "video":
                event["hangoutLink"] = point["uri"]


def writable(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k in WRITABLE}


def merge(current: dict[str, Any], changes: dict[str, Any], *, nested: bool = False) -> dict[str, Any]:
    """Patch semantics: objects merge key by key, arrays and scalars replace, null removes.
    (At the top level a null is kept, so that applying the fields removes the field.)"""
    merged = dict(current)
    for key, value in changes.items():
        if value is None and nested:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value, nested=True)
        else:
            merged[key] = value
    return merged


def _conference(data: dict[str, Any], meet_code: Callable[[], str]) -> dict[str, Any]:
    """A `createRequest` for Meet succeeds at once, with a made-up Meet link."""
    request = data.get("createRequest")
    if not request or data.get("entryPoints"):
        return data
    code = meet_code()
    return {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [
            {
                "entryPointType": "video",
                "uri": f"https://meet.google.com/{code}",
                "label": f"meet.google.com/{code}",
            }
        ],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": code,
    }


def _check_span(start: EventTime, end: EventTime, tz: ZoneInfo) -> None:
    if start.all_day != end.all_day:
        raise GoogleApiError.bad_request("Start and end times must either both be date or both be dateTime.")
    if end.instant(tz) < start.instant(tz):
        raise GoogleApiError.time_range_empty()


def _check_extended_properties(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or any(k not in {"private", "shared"} for k in value):
        raise GoogleApiError.bad_request("Invalid extended properties.")
    for scope in value.values():
        if not isinstance(scope, dict) or not all(isinstance(v, str) for v in scope.values()):
            raise GoogleApiError.bad_request("Invalid extended property value.")


def _attendees(raw: Any, organizer: str, calendar_id: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise GoogleApiError.bad_request("Invalid attendees.")
    result = []
    for attendee in raw:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise GoogleApiError.bad_request("Missing attendee email.", "required")
        shaped = dict(attendee)
        email = shaped["email"].lower()
        if email == organizer.lower():
            shaped["organizer"] = True
            shaped.setdefault("responseStatus", "accepted")
        if email == calendar_id.lower():
            shaped["self"] = True
        shaped.setdefault("responseStatus", "needsAction")
        result.append(shaped)
    return result
