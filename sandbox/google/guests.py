"""Guests' copies: Google puts an event on every invited Workspace user's own calendar (with the
same id), whether or not anyone is mailed. A copy carries the organizer's shared extended
properties but keeps its own private ones, and `self` marks the guest (never the organizer or the
creator, who own another calendar)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from sandbox.google.shapes import as_seen_from

__all__ = ["guest_copy", "guests_of", "html_link"]


def html_link(event_id: str, calendar_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def guests_of(event: dict[str, Any] | None, organizer: str, users: Iterable[str]) -> set[str]:
    """The invited users of the domain who get a copy (never the organizer's own calendar)."""
    if event is None or event.get("status") == "cancelled":
        return set()
    known = {u.lower() for u in users}
    return {
        a["email"].lower()
        for a in event.get("attendees", [])
        if a.get("email", "").lower() in known and a["email"].lower() != organizer.lower()
    }


def guest_copy(event: dict[str, Any], guest: str, existing: dict[str, Any] | None) -> dict[str, Any]:
    copy = {k: v for k, v in event.items() if k != "extendedProperties"}
    properties: dict[str, dict[str, str]] = {}
    shared = event.get("extendedProperties", {}).get("shared")
    if shared:
        properties["shared"] = dict(shared)
    private = (existing or {}).get("extendedProperties", {}).get("private")
    if private:
        properties["private"] = dict(private)
    if properties:
        copy["extendedProperties"] = properties
    copy = as_seen_from(copy, guest)
    copy["htmlLink"] = html_link(event["id"], guest)
    return copy
