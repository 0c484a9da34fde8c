"""Stored events as Graph JSON, in the id format and time zone the request prefers."""

from __future__ import annotations

import re
from typing import Any

from sandbox.graph.instances import Instance, instance_id, key_start
from sandbox.graph.prefs import Prefs
from sandbox.graph.state import Mailbox, StoredEvent
from sandbox.graph.timezones import format_floating, format_local, format_utc

__all__ = ["etag", "render_instance", "render_item"]


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


def _body_preview(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    text = str(body.get("content") or "")
    if str(body.get("contentType", "text")).lower() == "html":
        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:255]


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
    out: dict[str, Any] = {
        "@odata.etag": etag(shown.change_key),
        "id": event_id,
        "createdDateTime": format_utc(shown.created),
        "lastModifiedDateTime": format_utc(shown.modified),
        "changeKey": shown.change_key,
        "categories": fields.get("categories", []),
        "transactionId": shown.transaction_id,
        "originalStartTimeZone": shown.start_zone,
        "originalEndTimeZone": shown.end_zone,
        "iCalUId": shown.ical_uid,
        "uid": shown.ical_uid,
        "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": fields.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": fields.get("subject", ""),
        "bodyPreview": _body_preview(body),
        "importance": fields.get("importance", "normal"),
        "sensitivity": fields.get("sensitivity", "normal"),
        "isAllDay": shown.is_all_day,
        "isCancelled": False,
        "isOrganizer": is_organizer,
        "responseRequested": fields.get("responseRequested", True),
        "seriesMasterId": None,
        "showAs": fields.get("showAs", "busy"),
        "type": kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
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
        "location": fields.get("location") or {"displayName": "", "locationType": "default"},
        "locations": fields.get("locations", []),
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


def render_item(
    mailbox: Mailbox, item: StoredEvent, prefs: Prefs, expand_ids: set[str] | None = None
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
    return out


def render_instance(
    mailbox: Mailbox, inst: Instance, prefs: Prefs, expand_ids: set[str] | None = None
) -> dict[str, Any]:
    """One instance of a calendar view: a single event, an occurrence or an exception."""
    if inst.key is None:
        return render_item(mailbox, inst.item, prefs, expand_ids)
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
    out["originalStart"] = format_utc(key_start(inst.key)).replace(".0000000Z", "Z")
    out["originalStartTimeZone"] = inst.item.start_zone
    out["iCalUId"] = f"{inst.item.ical_uid}{inst.key}"
    out["@odata.etag"] = etag(inst.shown.change_key if inst.kind == "exception" else inst.item.change_key)
    out["changeKey"] = out["@odata.etag"][3:-1]
    return out
