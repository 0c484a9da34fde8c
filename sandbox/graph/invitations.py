"""When a real Exchange mailbox would have mailed attendees about an app's write.

The rule applied (counted in `counters.invitations`, only for writes the app makes through
Graph; a person's own edits through the control API are theirs, not calbridge's):

- The event is a *meeting*: it has at least one attendee, and its organizer is the mailbox
  itself. Graph makes the mailbox the organizer of every event an app creates in it, whatever
  `organizer` the body carries.
- Create: a meeting created -> a meeting request to every attendee ("meeting created with attendees").
- Update: a PATCH of a meeting (or of one of its occurrences) that touches a property attendees
  see -- subject, body, start, end, isAllDay, location(s), attendees, recurrence,
  isOnlineMeeting -> a meeting update to every attendee ("meeting updated"). Changes to
  categories, reminders, showAs, sensitivity, importance or extended properties mail nobody.
- Delete: deleting a meeting (or one occurrence of it) -> a cancellation to every attendee
  ("meeting cancelled").
- An attendee's copy (organizer is someone else) never mails attendees.

How a client avoids mailing anyone: write the mirror *without* `attendees` (keep the list in
the body and/or a single-value extended property), so the event is an appointment, not a meeting.
Facts relied on (Graph v1.0 reference): "Create event" sends the meeting request to the attendees
when an event with attendees is saved; "Delete event" states that deleting a meeting from the
organizer's calendar sends attendees a cancellation; Outlook sends updates to attendees when the
organizer changes a meeting. Which property changes trigger an update is not documented; the
VISIBLE set below is this sandbox's reading of what Outlook puts in an update, and errs towards
counting.
"""

from __future__ import annotations

from typing import Any

from sandbox.counters import Invitation
from sandbox.graph.state import Mailbox, StoredEvent

__all__ = ["invitation_for"]

VISIBLE = frozenset(
    {"subject", "body", "start", "end", "isAllDay", "location", "locations", "attendees", "recurrence",
     "isOnlineMeeting"}
)  # fmt: skip


def _is_meeting(mailbox: Mailbox, shown: StoredEvent) -> bool:
    attendees = shown.fields.get("attendees") or []
    organizer = (shown.fields.get("organizer") or {}).get("emailAddress", {}).get("address")
    return bool(attendees) and (organizer is None or organizer.lower() == mailbox.address.lower())


def invitation_for(
    action: str, mailbox: Mailbox, event_id: str, shown: StoredEvent, payload: dict[str, Any] | None = None
) -> Invitation | None:
    """The invitation Exchange would send for `action` (create, update, delete), if any."""
    if not _is_meeting(mailbox, shown):
        return None
    recipients = len(shown.fields.get("attendees") or [])
    if action == "create":
        reason = "meeting created with attendees"
    elif action == "update":
        if not VISIBLE & set(payload or {}):
            return None
        reason = "meeting updated"
    elif action == "delete":
        reason = "meeting cancelled"
    else:
        return None
    return Invitation("graph", mailbox.address, event_id, recipients, reason)
