"""What each provider returns after accepting a write body, shaped like its documented responses.

Used to close round trips: Event -> body -> (as the provider would return it) -> Event. The
shapes follow the Google Calendar v3 event resource and the Graph v1.0 event resource: Graph
returns times in UTC without `Prefer: outlook.timezone`, keeps the written zone in
`originalStartTimeZone`, wraps HTML bodies in a whole document and fills every pattern field.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calbridge.translate.zones import to_iana

OWNER = "mirror.owner@example.com"


def google_echo(body: dict[str, Any], event_id: str = "m1rr0r0000000001") -> dict[str, Any]:
    out = copy.deepcopy(body)
    out.setdefault("status", "confirmed")
    out.setdefault("eventType", "default")
    out.update(
        kind="calendar#event",
        id=event_id,
        etag='"3489012345678000"',
        htmlLink=f"https://www.google.com/calendar/event?eid={event_id}",
        created="2025-03-01T10:00:00.000Z",
        updated="2025-03-01T10:00:00.000Z",
        creator={"email": OWNER, "self": True},
        organizer={"email": OWNER, "self": True},
        iCalUID=f"{event_id}@google.com",
        sequence=0,
    )
    if out.get("attendees"):  # Google lists the organizer among the guests, first
        listed = {a["email"].lower() for a in out["attendees"]}
        if OWNER.lower() not in listed:
            organizer = {"email": OWNER, "organizer": True, "self": True, "responseStatus": "accepted"}
            out["attendees"] = [organizer, *out["attendees"]]
    if out.get("description") == "":
        del out["description"]
    if out.get("location") == "":
        del out["location"]
    return out


def graph_echo(
    body: dict[str, Any], event_id: str = "AAMkAGI2TGuLAAA=", prefer_zone: str | None = None
) -> dict[str, Any]:
    out = copy.deepcopy(body)
    zone = prefer_zone or "UTC"
    out["originalStartTimeZone"] = body["start"]["timeZone"]
    out["originalEndTimeZone"] = body["end"]["timeZone"]
    for key in ("start", "end"):
        out[key] = _in_zone(body[key], zone, all_day=bool(body.get("isAllDay")))
    content = body["body"]["content"]
    if body["body"]["contentType"] == "html":
        content = (
            '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
            f"</head><body>{content}</body></html>"
        )
    out["body"] = {"contentType": body["body"]["contentType"], "content": content}
    out.setdefault("isReminderOn", True)
    out.setdefault("reminderMinutesBeforeStart", 15)
    out.setdefault("isOnlineMeeting", False)
    out.update(
        {
            "@odata.etag": 'W/"DwAAABYAAAB3"',
            "id": event_id,
            "changeKey": "DwAAABYAAAB3",
            "createdDateTime": "2025-03-01T10:00:00.1234567Z",
            "lastModifiedDateTime": "2025-03-01T10:00:00.1234567Z",
            "type": "seriesMaster" if body.get("recurrence") else "singleInstance",
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "importance": "normal",
            "onlineMeetingProvider": "unknown",
            "onlineMeeting": None,
            "attendees": [],
            "organizer": {"emailAddress": {"name": "Mirror Owner", "address": OWNER}},
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        }
    )
    out["location"] = {
        "displayName": body.get("location", {}).get("displayName", ""),
        "locationType": "default",
        "uniqueIdType": "unknown",
    }
    if body.get("recurrence"):
        out["recurrence"] = _filled_recurrence(body["recurrence"])
    return out


def _in_zone(value: dict[str, str], zone: str, *, all_day: bool) -> dict[str, str]:
    if all_day:  # all-day times are floating: Graph returns midnight whatever zone is asked
        return {"dateTime": value["dateTime"], "timeZone": zone}
    local = datetime.fromisoformat(value["dateTime"][:19]).replace(
        tzinfo=ZoneInfo(to_iana(value["timeZone"]))
    )
    moved = local.astimezone(ZoneInfo(to_iana(zone)))
    return {"dateTime": f"{moved:%Y-%m-%dT%H:%M:%S}.0000000", "timeZone": zone}


def _filled_recurrence(value: dict[str, Any]) -> dict[str, Any]:
    pattern = {
        "type": "daily",
        "interval": 1,
        "month": 0,
        "dayOfMonth": 0,
        "daysOfWeek": [],
        "firstDayOfWeek": "sunday",
        "index": "first",
        **value["pattern"],
    }
    rng = {
        "type": "noEnd",
        "startDate": "",
        "endDate": "0001-01-01",
        "recurrenceTimeZone": "",
        "numberOfOccurrences": 0,
    }
    return {"pattern": pattern, "range": {**rng, **value["range"]}}
