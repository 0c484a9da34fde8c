"""The join URL of an event, for the meeting list: its online meeting as the translators read it
(Google `conferenceData`, Graph `onlineMeeting`, a link found in the text), else a link a
person put in its location or body (`calbridge.translate.meetings.meeting_in_text`, the one
detector of Meet, Teams, Zoom and Webex links and SIP URIs)."""

from __future__ import annotations

from calbridge.model import Event
from calbridge.translate.meetings import meeting_in_text

__all__ = ["join_url_of"]


def join_url_of(event: Event) -> str | None:
    """Where a person clicks to join `event`, or None (a meeting asked for, not made yet: None)."""
    meeting = event.online_meeting or meeting_in_text(event.location, event.description)
    return meeting.join_url if meeting is not None and meeting.join_url else None
