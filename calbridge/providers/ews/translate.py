"""Event <-> EWS calendar items, as plain field maps keyed by exchangelib's CalendarItem names.

The boundary is a dict: the adapter builds it from a fetched `CalendarItem` (`item_fields`, which
only reads attributes) and turns a written one into `CalendarItem(**fields)` plus
`update_fields=list(fields)`. The values are exchangelib value types (EWSDateTime, EWSTimeZone,
Recurrence, Body/HTMLBody), which need no server, so everything here is pure and testable offline.

Mapping decisions (lossy cases noted):
- times: `start`/`end` are instants; the event's zone is `StartTimeZone`, whose Windows id
  exchangelib maps to IANA (`EWSTimeZone.from_ms_id`, CLDR). CLDR maps several IANA names to one
  Windows zone, so the source's own name is kept as a fact. A zone without a Windows id, or whose
  Windows counterpart has other offsets at the event's times, is written in UTC with a warning
  (a recurring series there raises UnsupportedRecurrence: it would drift at DST).
- all-day: `is_all_day` with dates in `all_day_zone` (the mailbox's zone); exchangelib's end
  date is inclusive, the model's exclusive. Dates never pass through a zone. The end is read
  from the stored PidLidAppointmentEndWhole when Exchange gives it: exchangelib subtracts 24
  hours in UTC before taking the date, a day short when the last day is a spring-forward day.
- `legacy_free_busy_status` Free/Tentative/Busy/OOF/WorkingElsewhere <-> ShowAs; NoData reads busy.
- `sensitivity` Normal/Personal/Private/Confidential one to one.
- status: `is_cancelled` -> cancelled; EWS has no tentative event status (a fact keeps it).
- reminders: EWS holds one (`reminder_minutes_before_start`); the earliest is written, the list
  is a fact; None (the calendar's default) writes no reminder.
- a mirror NEVER has attendees (an item with attendees is a meeting request waiting to be sent):
  they are note lines and a fact, as on Graph. The join URL is the location (when the event has
  none) and a note line: EWS has no writable online-meeting field.
- recurrence: see `ews_recurrence`. Deleted occurrences read as EXDATE lines of the master;
  modified occurrences read as their own events with `instance_of` (the adapter fetches them).
- marks: the stamp and facts are extended properties, see `ews_marks` (the same named
  properties the Graph adapter writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import structlog
from exchangelib import Body as EwsBody
from exchangelib import EWSDate, EWSDateTime, EWSTimeZone, HTMLBody
from exchangelib.errors import UnknownTimeZone as EwsUnknownTimeZone

from calbridge.model import (
    AllDay,
    Attendee,
    Body,
    Event,
    EventStatus,
    InstanceOf,
    Person,
    Recurrence,
    Response,
    Sensitivity,
    ShowAs,
    Span,
    Timed,
)
from calbridge.providers.base import Fetched, MirrorStamp
from calbridge.providers.ews.marks import (
    FACTS_FIELD,
    MARK_FIELDS,
    PAIR_FIELD,
    PAIRING_FIELD,
    SOURCE_FIELD,
    STORED_END_FIELD,
    read_facts,
    register_marks,
)
from calbridge.providers.ews.recurrence import ews_recurrence, exdate_lines, rules_from_ews
from calbridge.translate import stamps
from calbridge.translate.errors import TranslationError, UnsupportedRecurrence
from calbridge.translate.meetings import location_out, read_meeting
from calbridge.translate.mirror import (
    BUSY_TITLE,
    Detail,
    attendees_from_facts,
    meeting_from_facts,
    mirror_facts,
    note_lines,
)
from calbridge.translate.recurrence import excluded_starts
from calbridge.translate.text import body_from_graph, with_note, without_note
from calbridge.translate.zones import wall_time_is_ambiguous

__all__ = [
    "FACTS_FIELD",
    "MARK_FIELDS",
    "MASTER_ID",
    "PAIRING_FIELD",
    "PAIR_FIELD",
    "READ_FIELDS",
    "SOURCE_FIELD",
    "ews_fields",
    "fetched_from_ews",
    "item_fields",
    "register_marks",
]

log = structlog.get_logger(__name__)

# Not an exchangelib field: the adapter adds it to an exception's fields (EWS items do not say
# which master they belong to; the adapter knows because it read them from the master).
MASTER_ID = "master_id"

READ_FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "is_all_day",
    "_start_timezone",
    "_end_timezone",
    "legacy_free_busy_status",
    "sensitivity",
    "recurrence",
    "type",
    "original_start",
    "modified_occurrences",
    "deleted_occurrences",
    "reminder_is_set",
    "reminder_minutes_before_start",
    "is_cancelled",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "resources",
    "last_modified_time",
    PAIR_FIELD,
    SOURCE_FIELD,
    PAIRING_FIELD,
    FACTS_FIELD,
    STORED_END_FIELD,
)

# EWS answers date/times to the second unless asked otherwise (the DateTimePrecision SOAP
# header, which exchangelib does not send): `LastModifiedTime` has whole seconds.
UPDATED_PRECISION = timedelta(seconds=1)

_SHOW_AS_OUT = {
    ShowAs.FREE: "Free",
    ShowAs.TENTATIVE: "Tentative",
    ShowAs.BUSY: "Busy",
    ShowAs.OOF: "OOF",
    ShowAs.WORKING_ELSEWHERE: "WorkingElsewhere",
}
_SHOW_AS_IN = {v: k for k, v in _SHOW_AS_OUT.items()} | {"NoData": ShowAs.BUSY}
_SENSITIVITY_OUT = {s: s.value.capitalize() for s in Sensitivity}
_SENSITIVITY_IN = {v: k for k, v in _SENSITIVITY_OUT.items()}
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT"})  # exchangelib says Etc/UTC for Windows "UTC"
_RESPONSE_IN = {
    "Unknown": Response.NEEDS_ACTION,
    "NoResponseReceived": Response.NEEDS_ACTION,
    "Organizer": Response.ACCEPTED,
    "Accept": Response.ACCEPTED,
    "Tentative": Response.TENTATIVE,
    "Decline": Response.DECLINED,
}


# --- reading


def item_fields(item: Any, master_id: str | None = None) -> dict[str, Any]:
    """The field map of a fetched CalendarItem (attributes only; no server call)."""
    fields = {name: getattr(item, name, None) for name in READ_FIELDS}
    fields["id"], fields["changekey"] = item.id, item.changekey
    if master_id is not None:
        fields[MASTER_ID] = master_id
    return fields


def fetched_from_ews(fields: Mapping[str, Any]) -> Fetched:
    """An EWS calendar item's field map as a Fetched (see module doc for what maps how)."""
    facts = read_facts(fields.get(FACTS_FIELD))
    stamp = stamps.stamp_from(fields.get(PAIR_FIELD), fields.get(SOURCE_FIELD), fields.get(PAIRING_FIELD))
    modified = fields.get("last_modified_time")
    return Fetched(
        event=_event(fields, facts),
        version=str(fields.get("changekey") or ""),
        updated=_plain(modified) if isinstance(modified, datetime) else None,
        stamp=stamp,
        updated_precision=UPDATED_PRECISION,
    )


def _event(fields: Mapping[str, Any], facts: dict[str, Any]) -> Event:
    span, zone = _span_in(fields, facts)
    attendees = tuple(
        _attendee_in(a, optional=kind == "optional_attendees", resource=kind == "resources")
        for kind in ("required_attendees", "optional_attendees", "resources")
        for a in fields.get(kind) or ()
    )
    organizer = _person(fields.get("organizer"))
    stored_attendees, stored_organizer = attendees_from_facts(facts)
    if stored_attendees and not attendees:
        attendees = stored_attendees
    if stored_attendees or stored_organizer:
        organizer = stored_organizer  # a mirror's EWS organizer is its owner, not the meeting's
    description = _body_in(fields.get("body"))
    location = (fields.get("location") or "").strip() or None
    visible = " ".join(filter(None, [description.content if description else None, location]))
    # exchangelib exposes only `is_online_meeting` (no join URL): the link is read from the
    # location and the body, where Exchange puts a Teams meeting's join block.
    description, location, meeting = read_meeting(
        None, without_note(description), location, meeting_from_facts(facts, visible)
    )
    status = EventStatus.CONFIRMED
    if fields.get("is_cancelled"):
        status = EventStatus.CANCELLED
    elif facts.get("status") == EventStatus.TENTATIVE.value:
        status = EventStatus.TENTATIVE
    return Event(
        id=str(fields["id"]),
        span=span,
        title=fields.get("subject") or "",
        description=description,
        location=location,
        status=status,
        show_as=_SHOW_AS_IN.get(str(fields.get("legacy_free_busy_status")), ShowAs.BUSY),
        sensitivity=_SENSITIVITY_IN.get(str(fields.get("sensitivity")), Sensitivity.NORMAL),
        recurrence=_recurrence_in(fields, span, zone, facts),
        instance_of=_instance_of(fields, span, zone),
        organizer=organizer,
        attendees=attendees,
        reminders=_reminders_in(fields, facts),
        online_meeting=meeting,
        extra={"ews_type": str(fields.get("type") or "Single")},
    )


def _span_in(fields: Mapping[str, Any], facts: dict[str, Any]) -> tuple[Span, str]:
    tz = fields.get("_start_timezone")
    zone = "UTC" if getattr(tz, "key", None) in _UTC_KEYS else getattr(tz, "key", None) or "UTC"
    stored = facts.get("zone")
    if isinstance(stored, str) and stored != zone and _same_windows_zone(stored, zone):
        zone = stored  # the source's own IANA name, where CLDR maps several to one Windows zone
    start, end = fields["start"], fields["end"]
    if fields.get("is_all_day") or not isinstance(start, datetime):
        first, last = _as_date(start, zone), _as_date(end, zone)
        stored = fields.get(STORED_END_FIELD)
        if isinstance(stored, datetime):  # the exclusive end as stored, a midnight in `zone`
            return AllDay(first, max(_as_date(stored, zone), first + timedelta(days=1))), zone
        return AllDay(first, max(last, first) + timedelta(days=1)), zone  # exchangelib's end is inclusive
    local = ZoneInfo(zone)
    return Timed(_plain(start).astimezone(local), _plain(end).astimezone(local), zone), zone


def _recurrence_in(
    fields: Mapping[str, Any], span: Span, zone: str, facts: dict[str, Any]
) -> Recurrence | None:
    value = fields.get("recurrence")
    if value is None:
        return None
    all_day = isinstance(span, AllDay)
    try:
        rrule = rules_from_ews(value, zone=zone, all_day=all_day)
    except UnsupportedRecurrence as exc:
        log.warning("translate.recurrence_unreadable", provider="ews", reason=exc.reason)
        return None
    deleted = [_original(d.start, all_day, zone) for d in fields.get("deleted_occurrences") or ()]
    visible = rrule + exdate_lines(deleted, zone=zone)
    stored = facts.get("rules")
    if (
        isinstance(stored, list)
        and stored
        and _still_written(tuple(map(str, stored)), rrule, deleted, span, zone)
    ):
        return Recurrence(tuple(str(s) for s in stored))
    return Recurrence(visible)


def _still_written(
    stored: tuple[str, ...], rrule: tuple[str, ...], deleted: list[datetime | date], span: Span, zone: str
) -> bool:
    """Whether the item still shows what `stored` was written as (so a person's edit wins)."""
    all_day = isinstance(span, AllDay)
    try:
        written = rules_from_ews(ews_recurrence(stored, span.start, zone=zone), zone=zone, all_day=all_day)
        excluded = excluded_starts(stored, zone)
    except (UnsupportedRecurrence, ValueError, KeyError):
        return False
    return written == rrule and sorted(map(_key, excluded)) == sorted(map(_key, deleted))


def _instance_of(fields: Mapping[str, Any], span: Span, zone: str) -> InstanceOf | None:
    if fields.get("type") not in ("Exception", "Occurrence") or not fields.get(MASTER_ID):
        return None
    raw = fields.get("original_start")
    all_day = isinstance(span, AllDay)
    original: datetime | date = _original(raw, all_day, zone) if raw is not None else span.start
    return InstanceOf(str(fields[MASTER_ID]), original)


def _reminders_in(fields: Mapping[str, Any], facts: dict[str, Any]) -> tuple[int, ...] | None:
    seen: tuple[int, ...] = ()
    if fields.get("reminder_is_set"):
        seen = (int(fields.get("reminder_minutes_before_start") or 0),)
    if "reminders" in facts:
        stored = facts["reminders"]
        if stored is None:
            return seen or None
        if isinstance(stored, list) and tuple(sorted(stored))[-1:] == seen:
            return tuple(int(m) for m in stored)
    return seen


def _body_in(value: Any) -> Body | None:
    if value is None:
        return None
    kind = "html" if isinstance(value, HTMLBody) else "text"
    return body_from_graph({"contentType": kind, "content": str(value)})


def _attendee_in(value: Any, *, optional: bool, resource: bool) -> Attendee:
    mailbox = getattr(value, "mailbox", None)
    return Attendee(
        address=getattr(mailbox, "email_address", None) or "",
        name=getattr(mailbox, "name", None),
        response=_RESPONSE_IN.get(str(getattr(value, "response_type", None)), Response.NEEDS_ACTION),
        optional=optional,
        resource=resource,
    )


def _person(mailbox: Any) -> Person | None:
    address = getattr(mailbox, "email_address", None)
    return Person(address, getattr(mailbox, "name", None)) if address else None


# --- writing


def ews_fields(
    event: Event, stamp: MirrorStamp | None, *, detail: Detail, all_day_zone: str = "UTC"
) -> dict[str, Any]:
    """The CalendarItem fields of a mirror of `event`, carrying `stamp`. Every key is meant to be
    written, also on update (`update_fields=list(fields)`): None clears a field.

    `stamp` None writes a person's own event back (two-way pairs): no marks, no mirror note, and
    the marks already on the item are left alone (no key for them).

    Raises UnsupportedRecurrence when the series has no exact EWS pattern, and TranslationError
    for a cancelled event (on EWS that is a delete, never a write)."""
    if event.cancelled:
        raise TranslationError("a cancelled event is deleted on EWS, not written")
    fields: dict[str, Any] = {
        **_span_out(event, all_day_zone),
        "legacy_free_busy_status": _SHOW_AS_OUT[event.show_as],
    }
    if stamp is not None:
        fields.update({PAIR_FIELD: stamp.pair_id, SOURCE_FIELD: stamp.source_id})
        if stamp.pairing:
            fields[PAIRING_FIELD] = stamp.pairing
    if detail == "busy":
        # Empty body and location (not absent) so an update also clears what a full mirror held.
        fields.update(
            {
                "subject": BUSY_TITLE,
                "sensitivity": "Private",
                "body": EwsBody(""),
                "location": "",
                "reminder_is_set": False,
                "reminder_minutes_before_start": 0,
            }
        )
        if stamp is not None:
            fields[FACTS_FIELD] = None
        return fields
    # A person's own event gets only the join line (a meeting a keyword asked for, docs/hybrid.md).
    lines = note_lines(event) if stamp is not None else note_lines(event, attendees=False)
    description = with_note(event.description, lines)
    content = description.content if description is not None else ""
    fields.update(
        {
            "subject": event.title,
            "sensitivity": _SENSITIVITY_OUT[event.sensitivity],
            "body": HTMLBody(content) if description is not None and description.html else EwsBody(content),
            "location": location_out(event.location, event.online_meeting) or "",
            "reminder_is_set": bool(event.reminders),
            "reminder_minutes_before_start": max(event.reminders) if event.reminders else 0,
        }
    )
    if stamp is not None:
        fields[FACTS_FIELD] = orjson.dumps(mirror_facts(event)).decode()
    return fields


def _span_out(event: Event, all_day_zone: str) -> dict[str, Any]:
    span = event.span
    recurring = event.recurrence is not None
    if isinstance(span, AllDay):
        tz = _ews_zone(all_day_zone) or EWSTimeZone("UTC")
        out: dict[str, Any] = {
            "is_all_day": True,
            "start": EWSDate.from_date(span.start),
            "end": EWSDate.from_date(span.end - timedelta(days=1)),  # exchangelib's end is inclusive
            "_start_timezone": tz,
            "_end_timezone": tz,
        }
        zone = tz.key
    else:
        zone = span.zone
        # In UTC first: EWSDateTime.from_datetime drops `fold`, which turns the second 01:30 of
        # a fall-back night into the first. exchangelib then writes the local time with its
        # offset (`-05:00`), an exact instant.
        begins, ends = span.start.astimezone(UTC), span.end.astimezone(UTC)
        tz = _ews_zone(zone, begins, ends)
        if tz is None:
            if recurring:
                raise UnsupportedRecurrence(f"zone {zone} has no Windows zone with the same offsets")
            log.warning("translate.zone_unmapped", provider="ews", zone=zone, fallback="UTC")
            zone, tz = "UTC", EWSTimeZone("UTC")
        # In a fall-back night's repeated hour the values stay in UTC (the zone is still the
        # item's StartTimeZone): exchangelib compares end and start as wall times, ignoring
        # `fold`, and refuses 01:30 EDT to 01:15 EST as an end before its start.
        shown = EWSTimeZone("UTC") if wall_time_is_ambiguous(zone, begins, ends) else tz
        out = {
            "is_all_day": False,
            "start": EWSDateTime.from_datetime(begins).astimezone(shown),
            "end": EWSDateTime.from_datetime(ends).astimezone(shown),
            "_start_timezone": tz,
            "_end_timezone": tz,
        }
    first = span.start if isinstance(span, AllDay) else span.start.astimezone(ZoneInfo(zone))
    out["recurrence"] = (
        ews_recurrence(event.recurrence.rules, first, zone=zone) if event.recurrence is not None else None
    )
    return out


def _ews_zone(zone: str, *instants: datetime) -> EWSTimeZone | None:
    """The EWSTimeZone to write for `zone`, if its Windows counterpart keeps the same UTC offsets
    at these instants (CLDR maps a few zones, e.g. Antarctica/Troll, to one whose rules differ)."""
    try:
        tz = EWSTimeZone(zone)
        counterpart = EWSTimeZone.from_ms_id(tz.ms_id)
    except (EwsUnknownTimeZone, ValueError, KeyError):
        return None
    # Compared through ZoneInfo: converting into an EWSTimeZone loses `fold` (the repeated hour).
    own, theirs = ZoneInfo(zone), ZoneInfo(counterpart.key)
    if any(i.astimezone(own).utcoffset() != i.astimezone(theirs).utcoffset() for i in instants):
        return None
    return tz


# --- small pieces


def _same_windows_zone(a: str, b: str) -> bool:
    try:
        return bool(EWSTimeZone(a).ms_id == EWSTimeZone(b).ms_id)
    except (EwsUnknownTimeZone, ValueError, KeyError):
        return False


def _plain(value: datetime) -> datetime:
    """A stdlib datetime (exchangelib hands out EWSDateTime subclasses)."""
    moment = datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
        fold=value.fold,
    )
    return moment.astimezone(UTC)


def _as_date(value: date | datetime, zone: str) -> date:
    if isinstance(value, datetime):
        return _plain(value).astimezone(ZoneInfo(zone)).date()
    return date(value.year, value.month, value.day)


def _original(value: datetime | date, all_day: bool, zone: str) -> datetime | date:
    if isinstance(value, datetime):
        moment = _plain(value)
        return moment.astimezone(ZoneInfo(zone)).date() if all_day else moment
    return date(value.year, value.month, value.day)


def _key(value: datetime | date) -> str:
    return _plain(value).isoformat() if isinstance(value, datetime) else value.isoformat()
