"""`freeBusy.query`: busy intervals of the calendars the caller may see, errors per calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.google.errors import GoogleApiError
from sandbox.google.recurrence import instance_id, instance_resource, original_starts
from sandbox.google.state import ROLE_RANK, Calendar, GoogleWorld
from sandbox.google.times import format_rfc3339, parse_event_time, parse_rfc3339, zone

__all__ = ["MAX_CALENDARS", "query_free_busy"]

MAX_CALENDARS = 50


def query_free_busy(world: GoogleWorld, subject: str | None, body: dict[str, Any]) -> dict[str, Any]:
    if not body.get("timeMin") or not body.get("timeMax"):
        raise GoogleApiError.bad_request("Missing timeMin or timeMax.", "required")
    start = parse_rfc3339(body["timeMin"], "timeMin")
    end = parse_rfc3339(body["timeMax"], "timeMax")
    if end <= start:
        raise GoogleApiError.time_range_empty()
    tz = zone(body.get("timeZone")) if body.get("timeZone") else None
    calendars: dict[str, Any] = {}
    for position, item in enumerate(body.get("items") or []):
        requested = str(item.get("id", ""))
        if position >= MAX_CALENDARS:
            calendars[requested] = {
                "errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}],
                "busy": [],
            }
            continue
        calendar_id = subject if requested == "primary" and subject else requested
        calendar = world.calendars.get(calendar_id)
        if calendar is None or ROLE_RANK[world.role(calendar, subject)] < ROLE_RANK["freeBusyReader"]:
            calendars[requested] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
            continue
        busy = _merged(sorted(_busy(calendar, start, end)))
        calendars[requested] = {
            "busy": [{"start": format_rfc3339(s, tz), "end": format_rfc3339(e, tz)} for s, e in busy]
        }
    return {
        "kind": "calendar#freeBusy",
        "timeMin": format_rfc3339(start, tz),
        "timeMax": format_rfc3339(end, tz),
        "calendars": calendars,
    }


def _busy(
    calendar: Calendar, window_start: datetime, window_end: datetime
) -> list[tuple[datetime, datetime]]:
    spans = []
    for event in list(calendar.events.values()):
        if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
            continue
        if event.get("recurringEventId") in calendar.events and calendar.events[
            event["recurringEventId"]
        ].get("recurrence"):
            continue  # counted when its series is expanded
        occurrences = [event]
        if event.get("recurrence"):
            occurrences = []
            for original in original_starts(event):
                stored = calendar.events.get(instance_id(event["id"], original))
                occurrences.append(stored or instance_resource(event, original, calendar.tz))
                if original.instant(calendar.tz) >= window_end:
                    break
        for occurrence in occurrences:
            if occurrence.get("status") == "cancelled" or _declined(occurrence, calendar.id):
                continue
            start = parse_event_time(occurrence["start"], "start").instant(calendar.tz)
            end = parse_event_time(occurrence["end"], "end").instant(calendar.tz)
            if start < window_end and end > window_start:
                spans.append((max(start, window_start), min(end, window_end)))
    return spans


def _declined(event: dict[str, Any], calendar_id: str) -> bool:
    return any(
        a.get("email", "").lower() == calendar_id.lower() and a.get("responseStatus") == "declined"
        for a in event.get("attendees", [])
    )


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
