"""Event <-> Microsoft Graph event resources (raw JSON dicts, v1.0).

Reading: `fetched_from_graph`, for an event fetched with the marks expanded (see
`stamps.graph_expand_marks`), the properties of `GRAPH_SELECT` selected, and in any `Prefer:
outlook.timezone` (UTC when absent). Writing: `graph_body`, the POST/PATCH body of a mirror.

Mapping decisions (lossy cases noted):
- times: `dateTime` is wall time in `timeZone` (Windows, IANA or UTC); the event's zone is
  `originalStartTimeZone` through the CLDR table, else a series' `recurrenceTimeZone`. Outlook's
  labels for a custom zone (`tzone://Microsoft/Custom`, `Customized Time Zone`) name no zone:
  for a series the caller passes the zone its slots show (`graph_labels`); otherwise the
  response zone is taken, with a warning, and instants stay exact. `tzone://Microsoft/Utc` is UTC.
  Writes use the Windows name of the event's zone and its wall times, so 09:00 Europe/Paris stays
  09:00 local across DST. A zone without a Windows name, or whose CLDR counterpart has other UTC
  offsets at the event's times, is written in UTC with a warning (a recurring series in such a
  zone raises UnsupportedRecurrence: it would drift at DST). A single event whose start or end
  falls in the repeated hour of a fall-back night is written in UTC (wall time cannot say which
  pass), its zone kept as a fact and restored on reading; a series keeps its zone and wall time.
- all-day: midnight-to-midnight in `all_day_zone` (the mailbox's zone, which the adapter passes);
  reads take the dates as written, never converting midnight through another zone.
- showAs: one to one; `unknown` reads as busy.
- status: `isCancelled` -> cancelled. Graph has no tentative event status: it is kept as a fact.
  `responseStatus` is the owner's own answer to a meeting, not the event's status, and is not mapped.
- reminders: Graph holds one. A list is written as its earliest reminder (the largest lead time),
  the full list kept as a fact; None (the calendar default) writes nothing.
- a mirror NEVER has `attendees`: a Graph event with attendees is a meeting and Exchange mails
  every attendee on create and update. They are note lines and a fact instead (see `mirror`).
  Nor does it get `isOnlineMeeting`, unless a keyword asked for a Teams meeting: the source's
  join URL is its location (when it has none) and a note line. Reading cuts out the Teams join
  block Exchange adds to a body (`calbridge.translate.meetings`).
- recurrence: see `recurrence`; EXDATE lines are deleted occurrences on Graph (the engine deletes
  them) and are kept as a fact so the mirror reads back with its source's lines.
- occurrences: `originalStart` names an occurrence's or exception's slot in its series; Graph
  returns it only when selected. An unchanged occurrence without it starts in its slot; an
  exception without it raises TranslationError rather than guess (its start is not its slot).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from calbridge.model import (
    AllDay,
    Attendee,
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
from calbridge.providers.graph.labels import is_known_zone
from calbridge.translate import stamps
from calbridge.translate.errors import TranslationError, UnknownTimeZone, UnsupportedRecurrence
from calbridge.translate.meetings import detect_link, location_out, read_meeting
from calbridge.translate.mirror import (
    BUSY_TITLE,
    Detail,
    attendees_from_facts,
    meeting_from_facts,
    mirror_facts,
    note_lines,
)
from calbridge.translate.recurrence import graph_recurrence, rrule_lines
from calbridge.translate.text import body_from_graph, with_note, without_note
from calbridge.translate.zones import iana_to_windows, to_iana, wall_time_is_ambiguous

__all__ = ["GRAPH_SELECT", "fetched_from_graph", "graph_body", "graph_instant"]

log = structlog.get_logger(__name__)

# Every event property this module (and the change feed) reads, for `$select`: Graph leaves
# `originalStart` out unless it is selected, and a `$select` answers only what it names (plus
# `id`, `@odata.etag` and what `$expand` asks for, the marks). A property read here must be
# listed here; tests/providers checks that the translator reads nothing else.
GRAPH_SELECT = (
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "originalStartTimeZone",
    "originalStart",
    "location",
    "showAs",
    "sensitivity",
    "isCancelled",
    "recurrence",
    "type",
    "seriesMasterId",
    "organizer",
    "attendees",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "isOnlineMeeting",
    "onlineMeeting",
    "onlineMeetingUrl",
    "onlineMeetingProvider",
    "changeKey",
    "lastModifiedDateTime",
    "transactionId",
)

_SHOW_AS_IN = {s.value: s for s in ShowAs} | {"unknown": ShowAs.BUSY}
_RESPONSE_IN = {
    "none": Response.NEEDS_ACTION,
    "notResponded": Response.NEEDS_ACTION,
    "organizer": Response.ACCEPTED,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
}
# `lastModifiedDateTime` has 100 ns ticks; a datetime holds microseconds.
UPDATED_PRECISION = timedelta(microseconds=1)


def fetched_from_graph(
    item: dict[str, Any], *, original_start: datetime | date | None = None, zone: str | None = None
) -> Fetched:
    """A Graph event (as GET/delta/calendarView return it) as a Fetched. `original_start` is an
    occurrence's slot when the caller knows it and `item` does not say (a write's answer);
    `zone` (IANA) is its series' zone when Graph names it only by a label (`graph_labels`)."""
    stamp, facts = stamps.read_graph_marks(item)
    version = item.get("changeKey") or item.get("@odata.etag") or ""
    return Fetched(
        event=_event(item, facts, original_start, zone),
        version=str(version),
        updated=graph_instant(item.get("lastModifiedDateTime")),
        stamp=stamp,
        updated_precision=UPDATED_PRECISION,
    )


def graph_body(
    event: Event, stamp: MirrorStamp, *, detail: Detail, all_day_zone: str = "UTC", link: bool = True
) -> dict[str, Any]:
    """The POST/PATCH body of a mirror of `event`, carrying `stamp`. `link`: show the join URL in
    the location and the note (False where the event holds it natively, as its Teams meeting).
    A Teams meeting asked for (`OnlineMeeting.requested`) is `isOnlineMeeting` with
    `teamsForBusiness`: Exchange makes it and adds its join block to the body.

    Raises UnsupportedRecurrence when the series has no exact Graph pattern, and
    TranslationError for a cancelled event: on Graph that is a delete, never a write."""
    if event.cancelled:
        raise TranslationError("a cancelled event is deleted on Graph, not written")
    body: dict[str, Any] = {**_span_out(event, all_day_zone), "showAs": event.show_as.value}
    if detail == "busy":
        # Empty body and location (not absent) so a PATCH also clears what a full mirror held.
        return {
            **body,
            "subject": BUSY_TITLE,
            "sensitivity": "private",
            "body": {"contentType": "text", "content": ""},
            "location": {"displayName": ""},
            "isReminderOn": False,
            "singleValueExtendedProperties": stamps.graph_properties(stamp, None),
        }
    description = with_note(event.description, note_lines(event, link=link))
    meeting = event.online_meeting
    make_teams = meeting is not None and meeting.requested and meeting.provider is MeetingProvider.TEAMS
    body.update(
        subject=event.title,
        sensitivity=event.sensitivity.value,
        body={
            "contentType": "html" if description is not None and description.html else "text",
            "content": description.content if description is not None else "",
        },
        location={"displayName": location_out(event.location, meeting, link=link) or ""},
        isOnlineMeeting=make_teams,
        singleValueExtendedProperties=stamps.graph_properties(stamp, mirror_facts(event)),
    )
    if make_teams:
        body["onlineMeetingProvider"] = MeetingProvider.TEAMS.value
    if event.reminders is not None:
        body["isReminderOn"] = bool(event.reminders)
        if event.reminders:
            body["reminderMinutesBeforeStart"] = max(event.reminders)
    return body


def _span_out(event: Event, all_day_zone: str) -> dict[str, Any]:
    span = event.span
    recurring = event.recurrence is not None
    if isinstance(span, AllDay):
        day_zone = iana_to_windows(all_day_zone)
        out: dict[str, Any] = {
            "isAllDay": True,
            "start": _when(datetime.combine(span.start, time()), day_zone),
            "end": _when(datetime.combine(span.end, time()), day_zone),
        }
        if recurring:
            out["recurrence"] = _recurrence_out(event, span.start, all_day_zone, day_zone)
        return out
    zone = span.zone
    windows = _windows_zone(zone, span.start, span.end)
    if windows is None:
        if recurring:
            raise UnsupportedRecurrence(f"zone {zone} has no Windows zone with the same offsets")
        log.warning("translate.zone_unmapped", provider="graph", zone=zone, fallback="UTC")
        zone, windows = "UTC", "UTC"
    elif not recurring and wall_time_is_ambiguous(zone, span.start, span.end):
        # The second 01:30 of a fall-back night, as wall time, is read as the first: pin the
        # instant in UTC (the zone stays a fact, and reads restore it, see `_span_in`).
        zone, windows = "UTC", "UTC"
    tz = ZoneInfo(zone)
    out = {
        "isAllDay": False,
        "start": _when(span.start.astimezone(tz), windows),
        "end": _when(span.end.astimezone(tz), windows),
    }
    if recurring:
        out["recurrence"] = _recurrence_out(event, span.start, zone, windows)
    return out


def _windows_zone(zone: str, *instants: datetime) -> str | None:
    """The Windows name for `zone`, if its CLDR counterpart keeps the same UTC offsets here (CLDR
    maps a few zones, e.g. Antarctica/Troll, to a Windows zone whose rules differ)."""
    try:
        windows = iana_to_windows(zone)
        counterpart = ZoneInfo(to_iana(windows))
    except UnknownTimeZone:
        return None
    own = ZoneInfo(zone)
    if any(i.astimezone(own).utcoffset() != i.astimezone(counterpart).utcoffset() for i in instants):
        return None
    return windows


def _recurrence_out(event: Event, first: datetime | date, zone: str, windows: str) -> dict[str, Any]:
    assert event.recurrence is not None
    return graph_recurrence(event.recurrence.rules, first, zone=zone, windows_zone=windows)


def _when(local: datetime, windows: str) -> dict[str, str]:
    return {"dateTime": f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}0", "timeZone": windows}


def _event(
    item: dict[str, Any],
    facts: dict[str, Any],
    original_start: datetime | date | None,
    series_zone: str | None,
) -> Event:
    span, zone = _span_in(item, facts, series_zone)
    attendees = tuple(_attendee_in(a) for a in item.get("attendees") or [])
    organizer = _person((item.get("organizer") or {}).get("emailAddress"))
    stored_attendees, stored_organizer = attendees_from_facts(facts)
    if not attendees and stored_attendees:
        attendees = stored_attendees
    organizer = stored_organizer or organizer
    description = body_from_graph(item.get("body"))
    location = ((item.get("location") or {}).get("displayName") or "").strip() or None
    visible = " ".join(filter(None, [description.content if description else None, location]))
    description, location, meeting = read_meeting(
        _meeting_in(item), without_note(description), location, meeting_from_facts(facts, visible)
    )
    status = EventStatus.CONFIRMED
    if item.get("isCancelled"):
        status = EventStatus.CANCELLED
    elif facts.get("status") == EventStatus.TENTATIVE.value:
        status = EventStatus.TENTATIVE
    return Event(
        id=item["id"],
        span=span,
        title=item.get("subject") or "",
        description=description,
        location=location,
        status=status,
        show_as=_SHOW_AS_IN.get(str(item.get("showAs")), ShowAs.BUSY),
        sensitivity=_enum(Sensitivity, item.get("sensitivity")) or Sensitivity.NORMAL,
        recurrence=_recurrence_in(item, span, zone, facts),
        instance_of=_instance_of(item, span, zone, original_start),
        organizer=organizer,
        attendees=attendees,
        reminders=_reminders_in(item, facts),
        online_meeting=meeting,
        # Provider hint outside the hash: an unmodified `occurrence` needs no write of its own.
        extra={"graph_type": str(item.get("type") or "singleInstance")},
    )


def _span_in(item: dict[str, Any], facts: dict[str, Any], series_zone: str | None) -> tuple[Span, str]:
    start, end = item["start"], item["end"]
    response_zone = _zone(start.get("timeZone") or "UTC", "UTC")
    zone = (
        _known_zone(item.get("originalStartTimeZone"))
        or _known_zone(_range_zone(item))
        or series_zone
        or _zone(item.get("originalStartTimeZone") or response_zone, response_zone)  # warns
    )
    stored = facts.get("zone")
    if isinstance(stored, str) and _same_windows_zone(stored, zone):
        zone = stored  # the source's own IANA name, where the CLDR table maps several to one
    if item.get("isAllDay"):
        return AllDay(_date_in(start, zone), _date_in(end, zone)), zone
    given = ZoneInfo(response_zone)
    begins = _wall(start["dateTime"]).replace(tzinfo=given)
    ends = _wall(end["dateTime"]).replace(tzinfo=given)
    single = not item.get("recurrence")
    if isinstance(stored, str) and zone == "UTC" and single and _pinned(stored, begins, ends):
        zone = stored  # written in UTC because its wall time there is ambiguous (`_span_out`)
    local = ZoneInfo(zone)
    return Timed(begins.astimezone(local), ends.astimezone(local), zone), zone


def _pinned(zone: str, *instants: datetime) -> bool:
    try:
        return wall_time_is_ambiguous(zone, *instants)
    except (UnknownTimeZone, ValueError):
        return False


def _date_in(value: dict[str, str], zone: str) -> date:
    local = _wall(value["dateTime"])
    if local.time() == time():
        return local.date()  # all-day dates are floating: never convert midnight through a zone
    instant = local.replace(tzinfo=ZoneInfo(_zone(value.get("timeZone") or "UTC", "UTC")))
    return instant.astimezone(ZoneInfo(zone)).date()


def _recurrence_in(item: dict[str, Any], span: Span, zone: str, facts: dict[str, Any]) -> Recurrence | None:
    value = item.get("recurrence")
    if not value:
        return None
    range_zone = _known_zone(_range_zone(item)) or zone
    all_day = isinstance(span, AllDay)
    lines = rrule_lines(value, zone=range_zone, all_day=all_day)
    stored = facts.get("rules")
    if isinstance(stored, list) and stored:
        try:
            first = span.start
            written = graph_recurrence(
                tuple(stored), first, zone=range_zone, windows_zone=iana_to_windows(range_zone)
            )
            if rrule_lines(written, zone=range_zone, all_day=all_day) == lines:
                return Recurrence(tuple(str(s) for s in stored))
        except (UnsupportedRecurrence, UnknownTimeZone):
            pass
    return Recurrence(lines)


def _instance_of(
    item: dict[str, Any], span: Span, zone: str, known: datetime | date | None
) -> InstanceOf | None:
    kind = item.get("type")
    if kind not in ("exception", "occurrence") or not item.get("seriesMasterId"):
        return None
    original: datetime | date | None = graph_instant(item.get("originalStart")) or known
    if original is None:
        if kind == "exception":
            # Its start is not its slot: guessing would report the slot as cancelled.
            raise TranslationError("a Graph exception read without originalStart ($select GRAPH_SELECT)")
        original = span.start  # an unchanged occurrence starts where the pattern put it
    if isinstance(span, AllDay) and isinstance(original, datetime):
        original = original.astimezone(ZoneInfo(zone)).date()
    return InstanceOf(item["seriesMasterId"], original)


def _reminders_in(item: dict[str, Any], facts: dict[str, Any]) -> tuple[int, ...] | None:
    seen: tuple[int, ...] = ()
    if item.get("isReminderOn"):
        seen = (int(item.get("reminderMinutesBeforeStart") or 0),)
    if "reminders" in facts:
        stored = facts["reminders"]
        if stored is None:
            return None
        if isinstance(stored, list) and (tuple(sorted(stored))[-1:] == seen):
            return tuple(int(m) for m in stored)
    return seen


def _meeting_in(item: dict[str, Any]) -> OnlineMeeting | None:
    url = (item.get("onlineMeeting") or {}).get("joinUrl") or item.get("onlineMeetingUrl")
    if not item.get("isOnlineMeeting") or not url:
        return None
    provider = str(item.get("onlineMeetingProvider"))
    if provider == MeetingProvider.TEAMS.value:
        return OnlineMeeting(MeetingProvider.TEAMS, url)
    found = detect_link(url)
    return OnlineMeeting(found.provider if found is not None else MeetingProvider.OTHER, url)


def _attendee_in(value: dict[str, Any]) -> Attendee:
    email = value.get("emailAddress") or {}
    kind = value.get("type", "required")
    return Attendee(
        address=email.get("address", ""),
        name=email.get("name"),
        response=_RESPONSE_IN.get(str((value.get("status") or {}).get("response")), Response.NEEDS_ACTION),
        optional=kind == "optional",
        resource=kind == "resource",
    )


def _person(value: dict[str, Any] | None) -> Person | None:
    if not value or not value.get("address"):
        return None
    return Person(value["address"], value.get("name"))


def _range_zone(item: dict[str, Any]) -> Any:
    return ((item.get("recurrence") or {}).get("range") or {}).get("recurrenceTimeZone")


def _known_zone(name: Any) -> str | None:
    """The IANA zone `name` names; None for a label (a custom zone) or nothing."""
    return to_iana(name) if is_known_zone(name) else None


def _zone(name: str, fallback: str) -> str:
    try:
        return to_iana(name)
    except UnknownTimeZone:
        log.warning("translate.zone_unknown", provider="graph", zone=name, fallback=fallback)
        return fallback


def _same_windows_zone(a: str, b: str) -> bool:
    try:
        return iana_to_windows(a) == iana_to_windows(b)
    except UnknownTimeZone:
        return False


def _wall(value: str) -> datetime:
    head, _, fraction = value.partition(".")
    local = datetime.fromisoformat(head)
    return local + timedelta(microseconds=int((fraction + "000000")[:6])) if fraction else local


def graph_instant(value: object) -> datetime | None:
    """A Graph timestamp (`2026-10-26T08:00:00.1234567Z`) as an aware datetime, with its fraction:
    Graph writes seven digits (100 ns), a datetime keeps six. Dropping the fraction would make a
    Google edit made 0.1 s earlier look newer (`lastModifiedDateTime`)."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _enum(kind: Any, value: Any) -> Any:
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None
