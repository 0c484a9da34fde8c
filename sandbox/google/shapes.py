"""An event body as Google accepts and normalizes it: writable fields, validation, attendees,
conference creation, patch merging. Pure functions over dicts (the world does the storing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.google.errors import GoogleApiError
from sandbox.google.times import EventTime, parse_event_time

__all__ = [
    "MEET_ICON",
    "TIME_FIELDS",
    "WRITABLE",
    "MeetRoom",
    "apply_fields",
    "as_seen_from",
    "is_client_id",
    "merge",
    "with_new_organizer",
    "writable",
]

MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"

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


@dataclass(frozen=True)
class MeetRoom:
    """What Google makes up for a new Meet: the room code, dial-in numbers and pins, a signature."""

    code: str  # abc-defg-hij
    more_pin: str  # 13 digits, for the tel.meet page
    phone: str  # 10 digits, a US number
    phone_pin: str  # 9 digits
    signature: str


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
    meet: Callable[[], MeetRoom],
    pending: bool = False,
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
    # Google always answers with these, whether or not the write named them.
    event.setdefault("reminders", {"useDefault": True})
    event.setdefault("eventType", "default")
    if event["eventType"] == "outOfOffice":
        _check_out_of_office(event, start.moment is None)
    _check_extended_properties(event.get("extendedProperties"))
    if "conferenceData" in event and conference_version >= 1:
        event["conferenceData"] = _conference(event["conferenceData"], meet, pending=pending)
        for point in event["conferenceData"].get("entryPoints", []):
            if point.get("entryPointType") == "video":
                event["hangoutLink"] = point["uri"]


def _check_out_of_office(event: dict[str, Any], all_day: bool) -> None:
    """Google's shape of an out-of-office event: timed, without guests, `outOfOfficeProperties`
    defaulted as Google does (the primary-calendar rule is `event_types.check_type_write`'s)."""
    if all_day:
        raise GoogleApiError.bad_request("Out of office events cannot be all-day events.", "invalid")
    if event.get("attendees"):
        raise GoogleApiError.bad_request("Out of office events cannot have attendees.", "invalid")
    properties = dict(event.get("outOfOfficeProperties") or {})
    properties.setdefault("autoDeclineMode", "declineOnlyNewConflictingInvitations")
    event["outOfOfficeProperties"] = properties


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


def conference_made(data: dict[str, Any], meet: Callable[[], MeetRoom]) -> dict[str, Any]:
    """A pending `createRequest` completed (what Google does shortly after answering `pending`)."""
    request = {k: v for k, v in (data.get("createRequest") or {}).items() if k != "status"}
    return _conference({"createRequest": request}, meet)


def _conference(
    data: dict[str, Any], meet: Callable[[], MeetRoom], *, pending: bool = False
) -> dict[str, Any]:
    """A `createRequest` for Meet succeeds at once (or, `pending`, answers `pending` with no entry
    points and completes later: `conference_made`), shaped as Google answers: a video link, the
    `more` page with every dial-in number, one regional phone entry, the solution's icon and a
    signature over the data."""
    request = data.get("createRequest")
    if not request or data.get("entryPoints"):
        return data
    if (request.get("status") or {}).get("statusCode") == "pending":
        return data  # still being made: it is completed by the world, not by a write
    if pending:
        return {"createRequest": {**request, "status": {"statusCode": "pending"}}}
    room = meet()
    code = room.code
    return {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [
            {
                "entryPointType": "video",
                "uri": f"https://meet.google.com/{code}",
                "label": f"meet.google.com/{code}",
            },
            {
                "entryPointType": "more",
                "uri": f"https://tel.meet/{code}?pin={room.more_pin}",
                "pin": room.more_pin,
            },
            {
                "regionCode": "US",
                "entryPointType": "phone",
                "uri": f"tel:+1-{room.phone[:3]}-{room.phone[3:6]}-{room.phone[6:]}",
                "label": f"+1 {room.phone[:3]}-{room.phone[3:6]}-{room.phone[6:]}",
                "pin": room.phone_pin,
            },
        ],
        "conferenceSolution": {
            "key": {"type": "hangoutsMeet"},
            "name": "Google Meet",
            "iconUri": MEET_ICON,
        },
        "conferenceId": code,
        "signature": room.signature,
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
    """Validate and shape the guest list. As soon as there is a guest, Google lists the organizer
    too (`organizer: true`, `responseStatus: accepted`), first, whether or not the write named them."""
    if not isinstance(raw, list):
        raise GoogleApiError.bad_request("Invalid attendees.")
    result: list[dict[str, Any]] = []
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
    listed = {a["email"].lower() for a in result}
    if result and organizer.lower() not in listed:
        entry: dict[str, Any] = {"email": organizer, "organizer": True, "responseStatus": "accepted"}
        if organizer.lower() == calendar_id.lower():
            entry["self"] = True
        result.insert(0, entry)
    return result


def with_new_organizer(
    attendees: list[dict[str, Any]], organizer: str, calendar_id: str
) -> list[dict[str, Any]]:
    """The guest list after a move made `organizer` the organizer: the old organizer's entry goes."""
    guests = [{k: v for k, v in a.items() if k != "organizer"} for a in attendees if not a.get("organizer")]
    return _attendees(guests, organizer, calendar_id) if guests else []


def as_seen_from(event: dict[str, Any], calendar_id: str) -> dict[str, Any]:
    """`self` on the creator, the organizer and the attendees says whether that person owns the
    calendar this copy of the event sits on: recompute it for `calendar_id`."""
    shown = dict(event)
    for key in ("creator", "organizer"):
        if isinstance(event.get(key), dict):
            shown[key] = _marked(event[key], calendar_id)
    if isinstance(event.get("attendees"), list):
        shown["attendees"] = [_marked(a, calendar_id) for a in event["attendees"]]
    return shown


def _marked(person: dict[str, Any], calendar_id: str) -> dict[str, Any]:
    shaped = {k: v for k, v in person.items() if k != "self"}
    if str(person.get("email", "")).lower() == calendar_id.lower():
        shaped["self"] = True
    return shaped
