"""Join information: finding it in an event's text, and cutting out what only repeats it.

Pure functions over strings. A provider's own conference field (Google `conferenceData`, Graph
`onlineMeeting`) is read by its translator; what a person pasted (a Zoom link in the location, a
Webex address in the body, a SIP URI) and what a mirror shows (its location, its note) are found
here, by the shapes of the providers' join URLs. Detection, not parsing: a URL that merely
mentions a provider's domain (a help page) is not a join link.

Two cuts keep a link from being copied as text:
- Exchange appends a ~2 kB "Microsoft Teams meeting" block to the body of a Teams meeting
  (`without_teams_block`); it is replaced on the other side by the link in its native place.
- A location that holds nothing but the join URL (or Outlook's "Microsoft Teams Meeting") is the
  link's place, not a location (`location_in`): mirrors write the link there when the event has
  no location of its own, and read it back as no location.

Keywords (`@meet`, `@teams`) typed in a location ask calbridge to make a meeting
(`requested_provider`, `without_keyword`); see docs/hybrid.md.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from calbridge.model import Body, MeetingProvider, OnlineMeeting

__all__ = [
    "DEFAULT_KEYWORDS",
    "TEAMS_LOCATION",
    "detect_link",
    "location_in",
    "location_out",
    "meeting_in_text",
    "parse_keywords",
    "read_meeting",
    "requested_provider",
    "without_keyword",
    "without_teams_block",
]

TEAMS_LOCATION = "Microsoft Teams Meeting"
DEFAULT_KEYWORDS: Mapping[str, MeetingProvider] = {
    "@meet": MeetingProvider.GOOGLE_MEET,
    "@teams": MeetingProvider.TEAMS,
}

_URL_END = r"[^\s<>\"'\)\]]*"
# Most specific first; each names one provider's join URL shape.
_SHAPES: tuple[tuple[MeetingProvider, re.Pattern[str]], ...] = (
    (
        MeetingProvider.GOOGLE_MEET,
        re.compile(r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}\b" + _URL_END),
    ),
    (
        MeetingProvider.TEAMS,
        re.compile(
            r"https://(?:teams\.microsoft\.com/l/meetup-join/|teams\.live\.com/meet/"
            r"|teams\.microsoft\.com/meet/)" + _URL_END,
            re.I,
        ),
    ),
    (MeetingProvider.ZOOM, re.compile(r"https://(?:[\w-]+\.)?zoom(?:gov)?\.us/(?:j|my|w)/" + _URL_END, re.I)),
    (
        MeetingProvider.WEBEX,
        re.compile(
            r"https://[\w-]+\.webex\.com/(?:meet/|join/|[\w-]+/j\.php\?MTID=|wbxmjs/joinservice/)" + _URL_END,
            re.I,
        ),
    ),
)
_SIP = re.compile(r"\bsip:[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_RULE_TEXT = "_" * 30
_TEAMS_MARK = re.compile(r"Microsoft\s+Teams\s+(?:meeting|Need help)", re.I)
_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"(?:\s|<br\s*/?>|&nbsp;)+$", re.I)


def detect_link(text: str | None) -> OnlineMeeting | None:
    """The first join link in `text` (plain text or HTML), with the SIP URI beside it if any.
    A SIP URI alone is a meeting too (a video device's address)."""
    if not text:
        return None
    plain = html.unescape(text)
    found: tuple[int, MeetingProvider, str] | None = None
    for provider, shape in _SHAPES:
        match = shape.search(plain)
        if match is not None and (found is None or match.start() < found[0]):
            found = (match.start(), provider, match.group(0).rstrip(".,;"))
    sip = _SIP.search(plain)
    sip_uri = sip.group(0) if sip else None
    if found is not None:
        return OnlineMeeting(found[1], found[2], sip_uri)
    if sip_uri is not None:
        return OnlineMeeting(MeetingProvider.SIP, sip_uri, sip_uri)
    return None


def meeting_in_text(location: str | None, body: Body | None) -> OnlineMeeting | None:
    """A join link a person put in the location or the body (the location first)."""
    return detect_link(location) or detect_link(body.content if body is not None else None)


def location_in(location: str | None, meeting: OnlineMeeting | None) -> str | None:
    """The location as a person would name it: None where it only holds the link's place."""
    text = (location or "").strip()
    if not text:
        return None
    if meeting is not None and text in (meeting.join_url, meeting.sip):
        return None
    if meeting is not None and meeting.provider is MeetingProvider.TEAMS and text == TEAMS_LOCATION:
        return None
    return text


def without_teams_block(body: Body | None) -> tuple[Body | None, OnlineMeeting | None]:
    """`body` without the join block Exchange adds to a Teams meeting, and the link it held.
    The block begins at a rule of underscores followed by "Microsoft Teams meeting" and ends at
    the next rule (or at the end); the body is unchanged when it has no such block."""
    if body is None:
        return None, None
    content = body.content
    start = content.find(_RULE_TEXT)
    while start >= 0:
        rule_end = start + len(content[start:]) - len(content[start:].lstrip("_"))
        close = content.find(_RULE_TEXT, rule_end)
        block = content[start : close if close >= 0 else len(content)]
        meeting = detect_link(block)
        if _TEAMS_MARK.search(_TAGS.sub(" ", block)) and meeting is not None:
            end = len(content)
            if close >= 0:
                end = close + len(content[close:]) - len(content[close:].lstrip("_"))
                if body.html:  # the rule's own element closes after it
                    closing = re.match(r"(?:\s*</(?:span|div|p)>)*", content[end:])
                    end += closing.end() if closing else 0
            head = content[:start]
            if body.html:  # cut the element the opening rule sits in
                opened = head.lower().rfind("<div")
                if opened >= 0 and "</div>" not in head[opened:].lower():
                    head = head[:opened]
                head = _BREAKS.sub("", head)
            rest = (head + content[end:]).strip()
            kept = _BREAKS.sub("", rest).strip() if body.html else rest
            return (Body(kept, body.html) if kept else None), meeting
        start = content.find(_RULE_TEXT, rule_end)
    return body, None


def parse_keywords(text: str) -> dict[str, MeetingProvider]:
    """`@meet=googleMeet,@teams=teamsForBusiness` (the setting) as a mapping; ValueError names
    what is wrong."""
    keywords: dict[str, MeetingProvider] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        keyword, sep, provider = item.partition("=")
        if not sep or not keyword.strip() or any(c.isspace() for c in keyword.strip()):
            raise ValueError(f"meeting keyword {item!r} is not keyword=provider")
        try:
            keywords[keyword.strip()] = MeetingProvider(provider.strip())
        except ValueError:
            raise ValueError(f"meeting keyword {item!r} names no known provider") from None
    return keywords


def requested_provider(
    location: str | None, keywords: Mapping[str, MeetingProvider] = DEFAULT_KEYWORDS
) -> MeetingProvider | None:
    """The meeting a keyword in the location asks for (`@meet`, `@teams`), if any."""
    if not location:
        return None
    words = location.lower().split()
    for keyword, provider in keywords.items():
        if keyword.lower() in words:
            return provider
    return None


def without_keyword(
    location: str | None, keywords: Mapping[str, MeetingProvider] = DEFAULT_KEYWORDS
) -> str | None:
    """The location with the keywords taken out (None when nothing else was there)."""
    if not location:
        return None
    lowered = {k.lower() for k in keywords}
    kept = " ".join(word for word in location.split() if word.lower() not in lowered)
    return kept.strip(" ,;") or None


def read_meeting(
    native: OnlineMeeting | None,
    description: Body | None,
    location: str | None,
    remembered: OnlineMeeting | None = None,
) -> tuple[Body | None, str | None, OnlineMeeting | None]:
    """An event's description, location and meeting as a translator reads them: the provider's
    own conference first, then a Teams block's link (the block cut out), then the meeting a
    mirror remembers, then a link in the location or body. `description` is read without the
    mirror note."""
    description, from_block = without_teams_block(description)
    meeting = native or from_block or remembered or meeting_in_text(location, description)
    return description, location_in(location, meeting), meeting


def location_out(location: str | None, meeting: OnlineMeeting | None, *, link: bool = True) -> str | None:
    """What a write puts in the location: the event's own, else the join URL (`link`), so every
    client shows the link where it looks first."""
    if location:
        return location
    if link and meeting is not None and not meeting.requested:
        return meeting.join_url
    return None
