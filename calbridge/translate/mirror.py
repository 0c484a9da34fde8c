"""What a mirror shows as text and remembers as facts, whichever provider it is written to.

Rule: a mirror never invites. Its source's attendees and organizer become lines of the
description note and a fact, never the provider's attendee list, so no provider mails anyone
and the mirror's owner never becomes the organizer of a meeting with real people. A conference
is never re-created: its join URL is the location (when the event has none), a note line (when
the description does not show it already) and a fact; see `calbridge.translate.meetings`.
"""

from __future__ import annotations

import html
from typing import Any

from calbridge.model import Attendee, Event, MeetingProvider, OnlineMeeting, Person, Response
from calbridge.pairs.policy import Detail

__all__ = ["BUSY_TITLE", "Detail", "attendees_from_facts", "meeting_from_facts", "mirror_facts", "note_lines"]

BUSY_TITLE = "Busy"
JOIN_LABEL = "Join:"


def note_lines(event: Event, *, attendees: bool = True, link: bool = True) -> list[str]:
    """The note's lines. The join line only where the description does not already show the
    link (a link a person pasted in the body is not repeated), and not for a meeting yet to be made."""
    lines: list[str] = []
    meeting = event.online_meeting
    if link and meeting is not None and not meeting.requested and not _shows(event, meeting.join_url):
        lines.append(f"{JOIN_LABEL} {meeting.join_url}")
    if attendees and event.organizer is not None:
        lines.append(f"Organizer: {_who(event.organizer.name, event.organizer.address)}")
    if attendees and event.attendees:
        lines.append("Attendees: " + ", ".join(_who(a.name, a.address) for a in event.attendees))
    return lines


def mirror_facts(event: Event, *, attendees: bool = True) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "showAs": event.show_as.value,
        "status": event.status.value,
        "sensitivity": event.sensitivity.value,
        "reminders": list(event.reminders) if event.reminders is not None else None,
    }
    if hasattr(event.span, "zone"):
        facts["zone"] = event.span.zone
    if event.recurrence is not None:
        facts["rules"] = list(event.recurrence.rules)
    if attendees and event.attendees:
        facts["attendees"] = [
            [a.address, a.name, a.response.value, a.optional, a.resource] for a in event.attendees
        ]
    if attendees and event.organizer is not None:
        facts["organizer"] = [event.organizer.address, event.organizer.name]
    if event.online_meeting is not None and not event.online_meeting.requested:
        facts["meeting"] = [event.online_meeting.provider.value, event.online_meeting.join_url]
    return facts


def attendees_from_facts(facts: dict[str, Any]) -> tuple[tuple[Attendee, ...], Person | None]:
    attendees: list[Attendee] = []
    for item in facts.get("attendees") or []:
        try:
            address, name, response, optional, resource = item
            attendees.append(Attendee(str(address), name, Response(response), bool(optional), bool(resource)))
        except (TypeError, ValueError):
            continue
    organizer = facts.get("organizer")
    person = Person(str(organizer[0]), organizer[1]) if isinstance(organizer, list) and organizer else None
    return tuple(attendees), person


def meeting_from_facts(facts: dict[str, Any], visible_text: str) -> OnlineMeeting | None:
    """The source's conference, while the mirror still shows its join URL."""
    meeting = facts.get("meeting")
    if not (isinstance(meeting, list) and len(meeting) == 2):
        return None
    url = str(meeting[1])
    if url in visible_text or html.escape(url) in visible_text:
        return OnlineMeeting(MeetingProvider.named(meeting[0]), url)
    return None


def _shows(event: Event, url: str) -> bool:
    text = event.description.content if event.description is not None else ""
    return url in text or html.escape(url) in text


def _who(name: str | None, address: str) -> str:
    return f"{name} <{address}>" if name else address
