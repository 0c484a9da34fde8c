"""Event <-> Google Calendar API v3 event resources (the dicts google-api-python-client yields).

Reading: `fetched_from_google`. Writing: `google_body`, the body of events.insert/patch/update,
which the adapter calls with sendUpdates=none and conferenceDataVersion=0.

Mapping decisions (lossy cases noted):
- show-as: transparency transparent -> free, opaque -> busy; eventType outOfOffice -> oof,
  workingLocation -> workingElsewhere, focusTime -> busy. Writing: free and workingElsewhere ->
  transparent, busy/tentative/oof -> opaque with the exact value kept as a fact. Mirrors are
  always eventType default: an outOfOffice event would auto-decline the owner's meetings.
- visibility: default/public -> normal (public is not kept), private -> private, confidential ->
  confidential; personal is written as private with the exact value kept as a fact.
- reminders: useDefault -> None (the target's own default); the pop-up overrides -> their minutes.
  E-mail overrides are not read (Outlook and Exchange keep one reminder, a pop-up, which must be
  the pop-up's minutes, not an e-mail's); a write back to a person's own event keeps them.
  Writes use popup, at most Google's 5, the earliest ones.
- conferencing: conferenceData's video entry point (or hangoutLink) -> OnlineMeeting, else a
  link found in the location or description (`calbridge.translate.meetings`). A mirror carries
  conferenceData only when a keyword asked for a Meet (a createRequest); any other link is its
  location (when it has none) and a note line.
- attendees: kept out of mirrors unless `guests=True` (then the adapter's sendUpdates=none is
  what keeps Google from mailing them); by default they are note lines and a fact.
- the organizer is not an attendee: Google lists the organizer among the attendees
  (`organizer: true`) as soon as there is a guest, where Graph and EWS never do. Reading drops
  that entry, so an Event's attendees are its guests whichever side it was read on; a guest list
  written never names the organizer, since Google adds them back by itself.
- a cancelled instance (a deleted occurrence) carries only its ids and originalStartTime: its
  span is that original start, zero length.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from calbridge.model import (
    NOT_MIRRORED,
    WORKING_LOCATION,
    AllDay,
    Attendee,
    Body,
    Event,
    EventStatus,
    InstanceOf,
    MeetingProvider,
    OnlineMeeting,
    Person,
    Recurrence,
    Response,
    Sensitivity,
    ShowAs,
    Span,
    Timed,
)
from calbridge.providers.base import Fetched, MirrorStamp
from calbridge.translate import stamps
from calbridge.translate.errors import UnknownTimeZone
from calbridge.translate.meetings import detect_link, location_out, read_meeting
from calbridge.translate.mirror import (
    BUSY_TITLE,
    Detail,
    attendees_from_facts,
    meeting_from_facts,
    mirror_facts,
    note_lines,
)
from calbridge.translate.text import looks_like_html, with_note, without_note
from calbridge.translate.zones import to_iana

__all__ = ["EVENT_TYPE_FATES", "email_overrides", "fetched_from_google", "google_body"]

log = structlog.get_logger(__name__)

# The declared fate of each of Google's special event types (docs/hybrid.md). Mirrors are always
# `default` events, so no write ever asks Google for a type it restricts; the types whose
# origin cannot be edited back (birthday, fromGmail) or that mean nothing as a block of time
# (workingLocation) are not mirrored at all, and are counted as such.
EVENT_TYPE_FATES = {
    "default": "mirrored",
    "outOfOffice": "mirrored as out of office (Graph showAs oof, EWS OOF)",
    "focusTime": "mirrored as busy with its title",
    "workingLocation": "mirrored as a free marker by pairs with --working-locations, else skipped",
    "birthday": "skipped: Google creates birthdays from contacts and allows few edits",
    "fromGmail": "skipped: Google made it from a mail and allows few edits",
}
_MAX_OVERRIDES = 5
UPDATED_PRECISION = timedelta(milliseconds=1)  # `updated` comes with milliseconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VISIBILITY_IN = {
    "default": Sensitivity.NORMAL,
    "public": Sensitivity.NORMAL,
    "private": Sensitivity.PRIVATE,
    "confidential": Sensitivity.CONFIDENTIAL,
}
_VISIBILITY_OUT = {
    Sensitivity.NORMAL: "default",
    Sensitivity.PERSONAL: "private",
    Sensitivity.PRIVATE: "private",
    Sensitivity.CONFIDENTIAL: "confidential",
}
_TRANSPARENCY_OUT = {
    ShowAs.FREE: "transparent",
    ShowAs.WORKING_ELSEWHERE: "transparent",
    ShowAs.BUSY: "opaque",
    ShowAs.TENTATIVE: "opaque",
    ShowAs.OOF: "opaque",
}


def fetched_from_google(item: dict[str, Any], *, default_zone: str = "UTC") -> Fetched:
    """An events.get/list item as a Fetched; `default_zone` is the calendar's zone, used when an
    event names none."""
    stamp, facts = stamps.read_google_marks(item)
    event = _event(item, facts, default_zone)
    return Fetched(
        event=event,
        version=str(item.get("etag", "")),
        updated=_instant(item.get("updated")),
        stamp=stamp,
        updated_precision=UPDATED_PRECISION,
    )


def google_body(
    event: Event, stamp: MirrorStamp, *, detail: Detail, guests: bool = False, link: bool = True
) -> dict[str, Any]:
    """The insert/update body of a mirror of `event`, carrying `stamp`. `link`: show the join
    URL in the location and the note (False where the event holds it natively, as its
    conferenceData). A Meet asked for (`OnlineMeeting.requested`) becomes a `createRequest`,
    which the adapter sends with conferenceDataVersion=1."""
    body: dict[str, Any] = {**_span_out(event.span), "transparency": _TRANSPARENCY_OUT[event.show_as]}
    if event.recurrence is not None:
        body["recurrence"] = list(event.recurrence.rules)
    if detail == "busy":
        return {
            **body,
            "summary": BUSY_TITLE,
            "visibility": "private",
            "reminders": {"useDefault": False, "overrides": []},
            "extendedProperties": {"private": stamps.google_properties(stamp, None)},
        }
    note = note_lines(event, attendees=not guests, link=link)
    description = with_note(event.description, note)
    body.update(
        summary=event.title,
        status=event.status.value,
        visibility=_VISIBILITY_OUT[event.sensitivity],
        reminders=_reminders_out(event.reminders),
        extendedProperties={
            "private": stamps.google_properties(stamp, mirror_facts(event, attendees=not guests))
        },
    )
    if description is not None:
        body["description"] = description.content
    location = location_out(event.location, event.online_meeting, link=link)
    if location:
        body["location"] = location
    meeting = event.online_meeting
    if meeting is not None and meeting.requested and meeting.provider is MeetingProvider.GOOGLE_MEET:
        body["conferenceData"] = {
            "createRequest": {
                "requestId": _request_id(stamp.source_id or event.id),
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    listed = _guests_out(event)
    if guests and listed:
        body["attendees"] = [_attendee_out(a) for a in listed]
        body["guestsCanInviteOthers"] = False
    return body


def _event(item: dict[str, Any], facts: dict[str, Any], default_zone: str) -> Event:
    status = EventStatus(item.get("status", "confirmed"))
    instance_of = None
    if item.get("recurringEventId") and item.get("originalStartTime"):
        instance_of = InstanceOf(item["recurringEventId"], _moment(item["originalStartTime"]))
    if "start" not in item:  # a cancelled stub: only ids (and originalStartTime for an instance)
        zone = _zone((item.get("originalStartTime") or {}).get("timeZone") or default_zone)
        return Event(
            id=item["id"], span=_stub_span(instance_of, zone), status=status, instance_of=instance_of
        )
    organizer = _person(item.get("organizer"))
    attendees = tuple(_attendee_in(a) for a in _guests(item.get("attendees") or [], organizer))
    stored_attendees, stored_organizer = attendees_from_facts(facts)
    if not attendees and stored_attendees:
        attendees = stored_attendees
    organizer = stored_organizer or organizer  # a mirror's visible organizer is only its owner
    visible = " ".join(filter(None, [item.get("description"), item.get("location")]))
    description, location, meeting = read_meeting(
        _meeting_in(item),
        without_note(_description(item.get("description"))),
        item.get("location"),
        meeting_from_facts(facts, visible),
    )
    return Event(
        id=item["id"],
        span=_span_in(item["start"], item["end"], default_zone),
        title=item.get("summary") or "",
        description=description,
        location=location,
        status=status,
        show_as=_show_as_in(item, facts),
        sensitivity=_sensitivity_in(item, facts),
        recurrence=Recurrence(tuple(item["recurrence"])) if item.get("recurrence") else None,
        instance_of=instance_of,
        organizer=organizer,
        attendees=attendees,
        reminders=_reminders_in(item.get("reminders")),
        online_meeting=meeting,
        extra=_type_hints(str(item.get("eventType") or "default")),  # outside the hash
    )


def _type_hints(kind: str) -> dict[str, str]:
    """The event type, and why it is never mirrored where it is not (`EVENT_TYPE_FATES`)."""
    hints = {"google_event_type": kind}
    fate = EVENT_TYPE_FATES.get(kind)
    if fate is not None and fate.startswith("skipped"):
        hints[NOT_MIRRORED] = f"{kind}: {fate}"
    if kind == "workingLocation":
        hints[WORKING_LOCATION] = f"{kind}: a working location, not a block of time"
    return hints


def _span_in(start: dict[str, Any], end: dict[str, Any], default_zone: str) -> Span:
    if "date" in start:
        return AllDay(date.fromisoformat(start["date"]), date.fromisoformat(end["date"]))
    zone = _zone(start.get("timeZone") or default_zone)
    tz = ZoneInfo(zone)
    return Timed(
        datetime.fromisoformat(start["dateTime"]).astimezone(tz),
        datetime.fromisoformat(end["dateTime"]).astimezone(tz),
        zone,
    )


def _span_out(span: Span) -> dict[str, Any]:
    if isinstance(span, AllDay):
        return {"start": {"date": span.start.isoformat()}, "end": {"date": span.end.isoformat()}}
    tz = ZoneInfo(span.zone)
    return {
        "start": {"dateTime": span.start.astimezone(tz).isoformat(), "timeZone": span.zone},
        "end": {"dateTime": span.end.astimezone(tz).isoformat(), "timeZone": span.zone},
    }


def _moment(value: dict[str, Any]) -> datetime | date:
    if "date" in value:
        return date.fromisoformat(value["date"])
    return datetime.fromisoformat(value["dateTime"])


def _stub_span(instance_of: InstanceOf | None, zone: str) -> Span:
    if instance_of is None:
        return Timed(_EPOCH, _EPOCH)
    start = instance_of.original_start
    if isinstance(start, datetime):
        return Timed(start, start, zone)
    return AllDay(start, date.fromordinal(start.toordinal() + 1))


def _zone(name: str) -> str:
    try:
        return to_iana(name)
    except UnknownTimeZone:
        log.warning("translate.zone_unknown", provider="google", zone=name, fallback="UTC")
        return "UTC"


def _show_as_in(item: dict[str, Any], facts: dict[str, Any]) -> ShowAs:
    kind = item.get("eventType", "default")
    if kind == "outOfOffice":
        return ShowAs.OOF
    if kind == "workingLocation":
        return ShowAs.WORKING_ELSEWHERE
    transparency = item.get("transparency", "opaque")
    seen = ShowAs.FREE if transparency == "transparent" else ShowAs.BUSY
    stored = _enum(ShowAs, facts.get("showAs"))
    # The stored value wins only while the visible field still shows what it was written as.
    return stored if stored is not None and _TRANSPARENCY_OUT[stored] == transparency else seen


def _sensitivity_in(item: dict[str, Any], facts: dict[str, Any]) -> Sensitivity:
    visibility = item.get("visibility", "default")
    seen = _VISIBILITY_IN.get(visibility, Sensitivity.NORMAL)
    stored = _enum(Sensitivity, facts.get("sensitivity"))
    return stored if stored is not None and _VISIBILITY_OUT[stored] == _VISIBILITY_OUT[seen] else seen


def _reminders_in(value: dict[str, Any] | None) -> tuple[int, ...] | None:
    """The pop-up overrides' minutes; e-mail reminders are not reminders Outlook can show (its one
    reminder is a pop-up), so they are left out (and kept on the Google event by writes back,
    see the adapter's `_merge`). `useDefault` (or no reminders object) is None: the target
    calendar's own default reminder, as the person set it there."""
    if not value or value.get("useDefault", True):
        return None
    overrides = value.get("overrides") or []
    return tuple(sorted(int(o["minutes"]) for o in overrides if o.get("method", "popup") == "popup"))


def email_overrides(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A Google event's e-mail reminder overrides (which an Event does not carry)."""
    reminders = item.get("reminders") or {}
    if reminders.get("useDefault", True):
        return []
    return [dict(o) for o in reminders.get("overrides") or [] if o.get("method") == "email"]


def _reminders_out(reminders: tuple[int, ...] | None) -> dict[str, Any]:
    if reminders is None:
        return {"useDefault": True}
    kept = sorted(reminders, reverse=True)[:_MAX_OVERRIDES]
    return {"useDefault": False, "overrides": [{"method": "popup", "minutes": m} for m in sorted(kept)]}


def _meeting_in(item: dict[str, Any]) -> OnlineMeeting | None:
    """conferenceData's video entry point (Meet, or an add-on's: Zoom, Webex, Teams), with its
    SIP entry point if any; else `hangoutLink` (older Meet events)."""
    conference = item.get("conferenceData") or {}
    points = conference.get("entryPoints") or []
    sip = next((str(p["uri"]) for p in points if p.get("entryPointType") == "sip" and p.get("uri")), None)
    for entry in points:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            solution = conference.get("conferenceSolution") or {}
            kind = (solution.get("key") or {}).get("type")
            if kind in ("hangoutsMeet", "eventHangout", "eventNamedHangout"):
                provider = MeetingProvider.GOOGLE_MEET
            else:
                found = detect_link(entry["uri"])
                provider = found.provider if found is not None else MeetingProvider.OTHER
            return OnlineMeeting(provider, entry["uri"], sip)
    if item.get("hangoutLink"):
        return OnlineMeeting(MeetingProvider.GOOGLE_MEET, item["hangoutLink"])
    return None


def _request_id(source_id: str) -> str:
    """The same createRequest id on every retry of one mirror's write: Google makes one meeting."""
    return "calbridge-" + hashlib.sha256(source_id.encode()).hexdigest()[:32]


def _guests(listed: list[dict[str, Any]], organizer: Person | None) -> list[dict[str, Any]]:
    """The attendees but the organizer's own entry, which Google adds to every guest list."""
    address = organizer.address.lower() if organizer is not None else None
    return [a for a in listed if not a.get("organizer") and str(a.get("email", "")).lower() != address]


def _guests_out(event: Event) -> tuple[Attendee, ...]:
    """The guests to write: never the organizer, whom Google lists by itself."""
    address = event.organizer.address.lower() if event.organizer is not None else None
    return tuple(a for a in event.attendees if a.address.lower() != address)


def _attendee_in(value: dict[str, Any]) -> Attendee:
    return Attendee(
        address=value.get("email", ""),
        name=value.get("displayName"),
        response=_enum(Response, value.get("responseStatus")) or Response.NEEDS_ACTION,
        optional=bool(value.get("optional", False)),
        resource=bool(value.get("resource", False)),
    )


def _attendee_out(attendee: Attendee) -> dict[str, Any]:
    out: dict[str, Any] = {"email": attendee.address, "responseStatus": attendee.response.value}
    if attendee.name:
        out["displayName"] = attendee.name
    if attendee.optional:
        out["optional"] = True
    if attendee.resource:
        out["resource"] = True
    return out


def _person(value: dict[str, Any] | None) -> Person | None:
    if not value or not value.get("email"):
        return None
    return Person(value["email"], value.get("displayName"))


def _description(text: str | None) -> Body | None:
    if not text or not text.strip():
        return None
    return Body(text, html=looks_like_html(text))


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _enum(kind: Any, value: Any) -> Any:
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None
