"""The join URL of an event: its native online meeting, else a Meet, Teams, Zoom or Webex link
found in its location or description.

Pure and provider-neutral: it reads the `Event` the translators made (Google `conferenceData`
and Graph `onlineMeeting` are already its `online_meeting`), so one function serves every
provider. The native meeting wins; then the location (people paste links there), then the body.
"""

from __future__ import annotations

import re

from calbridge.model import Event

__all__ = ["JOIN_URL", "join_url_of", "join_urls_in"]

# The meeting services whose links are recognised, as their join URLs are written.
JOIN_URL = re.compile(
    r"https://(?:"
    r"meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}"
    r"|teams\.microsoft\.com/l/meetup-join/[^\s\"'<>]+"
    r"|teams\.live\.com/meet/[^\s\"'<>]+"
    r"|(?:[a-z0-9-]+\.)?zoom\.us/(?:j|my|w)/[^\s\"'<>]+"
    r"|(?:[a-z0-9-]+\.)?webex\.com/(?:meet/|join/|[a-z0-9-]+/j\.php\?)[^\s\"'<>]+"
    r")",
    re.IGNORECASE,
)
_TRAILING = ".,;:)]}>"


def join_urls_in(text: str | None) -> list[str]:
    """Every recognised join URL in `text`, in order, without trailing punctuation or repeats."""
    if not text:
        return []
    found: list[str] = []
    for match in JOIN_URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING).replace("&amp;", "&")
        if url not in found:
            found.append(url)
    return found


def join_url_of(event: Event) -> str | None:
    """Where a person clicks to join `event`, or None."""
    if event.online_meeting is not None and event.online_meeting.join_url:
        return event.online_meeting.join_url
    for text in (event.location, event.description.content if event.description else None):
        urls = join_urls_in(text)
        if urls:
            return urls[0]
    return None
