"""Stored events as Graph JSON, in the id format and time zone the request prefers.

`originalStart` is left out unless the request `$select`s it, as Graph does; selected, it is
the occurrence's original start in UTC from `/instances` and a GET, and null on single events,
series masters, and in a `calendarView` listing (microsoftgraph/microsoft-graph-docs#4353). With
`$select`, only the selected properties (and `@odata.etag`, `id`, and what `$expand` asked
for) are returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

from sandbox.graph.content import body_preview, location_pair
from sandbox.graph.instances import Instance, instance_id, key_start
from sandbox.graph.prefs import Prefs
from sandbox.graph.state import Mailbox, StoredEvent
from sandbox.graph.timezones import format_floating, format_local, format_utc, resolve_zone

__all__ = ["etag", "render_instance", "render_item", "selected"]


def etag(change_key: str) -> str:
    return f'W/"{change_key}"'


def _times(shown: StoredEvent, start: Any, end: Any, prefs: Prefs) -> dict[str, Any]:
    if shown.is_all_day:
        return {
            "start": format_floating(start.date(), prefs.zone_name),
            "end": format_floating(end.date(), prefs.zone_name),
        }
    return {
        "start": format_local(start, prefs.zone, prefs.zone_name),
        "end": format_local(end, prefs.zone, prefs.zone_name),
    }


def _render(
    mailbox: Mailbox,
    shown: StoredEvent,
    *,
    event_id: str,
    kind: str,
    start: Any,
    end: Any,
    prefs: Prefs,
    expand_ids: set[str] | None,
) -> dict[str, Any]:
    fields = shown.fields
    organizer = fields.get("organizer") or {
        "emailAddress": {"name": mailbox.display_name, "address": mailbox.address}
    }
    is_organizer = (
        str(organizer.get("emailAddress", {}).get("address", "")).lower() == mailbox.address.lower()
    )
    body = fields.get("body") or {"contentType": "text", "content": ""}
    location, locations = (
        (fields["location"], fields.get("locations", [])) if "location" in fields else location_pair(None)
    )
    out: dict[str, Any] = {
        "@odata.etag": etag(shown.change_key),
        "id": event_id,
        "createdDateTime": format_utc(shown.created),
        "lastModifiedDateTime": format_utc(shown.modified),
        "changeKey": shown.change_key,
        "categories": fields.get("categories", []),
        "transactionId": shown.transaction_id,
        "originalStartTimeZone": shown.zone_label or shown.start_zone,
        "originalEndTimeZone": shown.zone_label or shown.end_zone,
        "iCalUId": shown.ical_uid,
        "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": fields.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": fields.get("subject", ""),
        "bodyPreview": body_preview(body),
        "importance": fields.get("importance", "normal"),
        "sensitivity": fields.get("sensitivity", "normal"),
        "isAllDay": shown.is_all_day,
        "isCancelled": False,
        "isOrganizer": is_organizer,
        "responseRequested": fields.get("responseRequested", True),
        "seriesMasterId": None,
        "showAs": fields.get("showAs", "busy"),
        "type": kind,
        "webLink": web_link(event_id),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(fields.get("isOnlineMeeting", False)),
        "onlineMeetingProvider": fields.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": fields.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": fields.get("hideAttendees", False),
        "responseStatus": fields.get("responseStatus")
        or {"response": "organizer" if is_organizer else "none", "time": "0001-01-01T00:00:00Z"},
        "body": body,
        **_times(shown, start, end, prefs),
        "location": location,
        "locations": locations,
        "recurrence": None,
        "attendees": fields.get("attendees", []),
        "organizer": organizer,
        "onlineMeeting": fields.get("onlineMeeting"),
    }
    if expand_ids is not None:
        out["singleValueExtendedProperties"] = [
            {"id": pid, "value": value}
            for pid, value in shown.extended.items()
            if "*" in expand_ids or pid.lower() in expand_ids
        ]
    return out


def web_link(event_id: str) -> str:
    """Outlook on the web's link: the id in its EWS spelling (`+`, `/`), percent-encoded."""
    ews_form = quote(event_id.translate(str.maketrans("-_", "/+")), safe="")
    return f"https://outlook.office365.com/owa/?itemid={ews_form}&exvsurl=1&path=/calendar/item"


# Navigation properties: in a row only when `$expand`ed, and then kept whatever `$select` says.
_EXPANDED = frozenset({"singlevalueextendedproperties"})


def selected(row: dict[str, Any], select: Iterable[str] | None) -> dict[str, Any]:
    """`row` cut down to a `$select` (names compare case-insensitively, as Graph's do). What
    `$expand` added stays: `$select=subject&$expand=singleValueExtendedProperties(...)` answers
    both, as Graph does."""
    if select is None:
        return row
    wanted = {name.strip().lower() for name in select} | _EXPANDED
    return {k: v for k, v in row.items() if k.startswith("@") or k == "id" or k.lower() in wanted}


def _wants_original_start(select: Iterable[str] | None) -> bool:
    return select is not None and any(name.strip().lower() == "originalstart" for name in select)


def render_item(
    mailbox: Mailbox,
    item: StoredEvent,
    prefs: Prefs,
    expand_ids: set[str] | None = None,
    select: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A stored single event or series master, as `GET /events/{id}` shows it."""
    event_id = instance_id(item, None, immutable=prefs.immutable_ids)
    kind = "seriesMaster" if item.recurrence is not None else "singleInstance"
    out = _render(
        mailbox,
        item,
        event_id=event_id,
        kind=kind,
        start=item.start,
        end=item.end,
        prefs=prefs,
        expand_ids=expand_ids,
    )
    out["recurrence"] = item.recurrence
    if _wants_original_start(select):
        out["originalStart"] = None
    return selected(out, select)


def _original_start(item: StoredEvent, key: str) -> str:
    """The occurrence's original start in UTC; for an all-day series, midnight in its zone."""
    moment = key_start(key)
    if item.is_all_day:
        zone = resolve_zone(item.start_zone) or UTC
        moment = datetime.combine(moment.date(), time(0), zone).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_instance(
    mailbox: Mailbox,
    inst: Instance,
    prefs: Prefs,
    expand_ids: set[str] | None = None,
    select: Iterable[str] | None = None,
    *,
    slot_known: bool = True,
) -> dict[str, Any]:
    """One instance of a calendar view: a single event, an occurrence or an exception.
    `slot_known` False (a `calendarView` listing) answers a selected `originalStart` as null,
    as Graph does there (microsoftgraph/microsoft-graph-docs#4353); `/instances` says it."""
    if inst.key is None:
        return render_item(mailbox, inst.item, prefs, expand_ids, select)
    event_id = instance_id(inst.item, inst.key, immutable=prefs.immutable_ids)
    out = _render(
        mailbox,
        inst.shown,
        event_id=event_id,
        kind=inst.kind,
        start=inst.start,
        end=inst.end,
        prefs=prefs,
        expand_ids=expand_ids,
    )
    out["seriesMasterId"] = instance_id(inst.item, None, immutable=prefs.immutable_ids)
    if _wants_original_start(select):
        out["originalStart"] = _original_start(inst.item, inst.key) if slot_known else None
    out["originalStartTimeZone"] = inst.item.zone_label or inst.item.start_zone
    out["originalEndTimeZone"] = inst.item.zone_label or inst.item.end_zone
    out["iCalUId"] = occurrence_ical_uid(inst.item.ical_uid, inst.key)
    out["@odata.etag"] = etag(inst.shown.change_key if inst.kind == "exception" else inst.item.change_key)
    out["changeKey"] = out["@odata.etag"][3:-1]
    return selected(out, select)


def occurrence_ical_uid(series_uid: str, key: str) -> str:
    """An occurrence's own iCalUId: Exchange writes its original date into the global object id."""
    day = key_start(key).date()
    return f"{series_uid[:32]}{day.year:04X}{day.month:02X}{day.day:02X}{series_uid[40:]}"
