"""Changes to a mailbox's calendars, shared by the Graph routes and the person's control routes.

Each write validates the payload the way Graph does, stores it the way Exchange does (body,
location and Teams meeting as `content` shapes them, recurrence completed), updates the stored
item (change key, last-modified time) and announces the change, so subscriptions and delta see
it whoever made it.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from sandbox.graph import content
from sandbox.graph.errors import GraphError
from sandbox.graph.instances import Instance
from sandbox.graph.recurrence import complete_recurrence, validate_recurrence
from sandbox.graph.render import etag
from sandbox.graph.state import Calendar, Change, GraphWorld, Mailbox, StoredEvent
from sandbox.graph.timezones import parse_datetime_tz, resolve_zone

__all__ = ["create_event", "delete_target", "move_event", "respond", "update_target"]

SETTABLE = {
    "subject", "body", "location", "locations", "attendees", "organizer", "showAs", "sensitivity",
    "importance", "isOnlineMeeting", "onlineMeetingProvider", "isReminderOn",
    "reminderMinutesBeforeStart", "responseRequested", "categories", "allowNewTimeProposals",
    "hideAttendees",
}  # fmt: skip
SPECIAL = {"start", "end", "isAllDay", "recurrence", "transactionId", "singleValueExtendedProperties"}
READ_ONLY = {
    "@odata.type", "@odata.etag", "@odata.context", "id", "changeKey", "createdDateTime",
    "lastModifiedDateTime", "iCalUId", "uid", "type", "seriesMasterId", "originalStart",
    "originalStartTimeZone", "originalEndTimeZone", "bodyPreview", "hasAttachments", "isCancelled",
    "isOrganizer", "webLink", "onlineMeetingUrl", "onlineMeeting", "isDraft", "responseStatus",
}  # fmt: skip
_ENUMS = {
    "showAs": {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"},
    "sensitivity": {"normal", "personal", "private", "confidential"},
    "importance": {"low", "normal", "high"},
}


def _check_payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    for name, value in payload.items():
        if name in READ_ONLY or name in SPECIAL:
            continue
        if name not in SETTABLE:
            raise GraphError(
                400, "RequestBodyRead",
                f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
            )  # fmt: skip
        if name in _ENUMS and value is not None and value not in _ENUMS[name]:
            raise GraphError(400, "RequestBodyRead", f"Invalid value '{value}' for '{name}'.")
    return payload


def _attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise GraphError(400, "RequestBodyRead", "attendees must be a collection.")
    out = []
    for entry in value:
        address = (entry or {}).get("emailAddress", {}).get("address")
        if not address:
            raise GraphError(400, "ErrorInvalidRecipients", "An attendee needs an email address.")
        out.append(
            {
                "type": entry.get("type", "required"),
                "status": entry.get("status") or {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"name": entry["emailAddress"].get("name", address), "address": address},
            }
        )
    return out


def _apply_times(target: StoredEvent, payload: dict[str, Any]) -> None:
    if "start" in payload:
        target.start, target.start_zone = parse_datetime_tz(payload["start"], "start")
    if "end" in payload:
        target.end, target.end_zone = parse_datetime_tz(payload["end"], "end")
    if "isAllDay" in payload:
        target.is_all_day = bool(payload["isAllDay"])
    if target.is_all_day and ("start" in payload or "end" in payload or "isAllDay" in payload):
        target.start = _all_day_boundary(target.start, target.start_zone)
        target.end = _all_day_boundary(target.end, target.end_zone)
    if target.end < target.start:
        raise GraphError(400, "ErrorInvalidRequest", "The end time must not be before the start time.")


def _all_day_boundary(moment: datetime, zone_name: str) -> datetime:
    """All-day events are floating dates: midnight in their zone, stored as that date in UTC."""
    local = moment.astimezone(resolve_zone(zone_name) or UTC)
    if local.time() != time(0):
        raise GraphError(
            400, "ErrorPropertyValidationFailure",
            "An all-day event's start and end must be midnight in their time zone.",
        )  # fmt: skip
    return datetime.combine(local.date(), time(0), UTC)


ONLINE = {"isOnlineMeeting", "onlineMeetingProvider"}
PROVIDERS = {"unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"}


def _apply_fields(world: GraphWorld, mailbox: Mailbox, target: StoredEvent, payload: dict[str, Any]) -> None:
    for name in (SETTABLE - ONLINE) & payload.keys():
        value = payload[name]
        if name == "attendees":
            value = _attendees(value)
        elif name == "body":
            value = content.normalize_body(value)
        elif name in ("location", "locations"):
            continue
        target.fields[name] = value
    if "location" in payload or "locations" in payload:
        given = payload.get("location")
        if "location" not in payload:
            given = (payload.get("locations") or [None])[0]
        target.fields["location"], target.fields["locations"] = content.location_pair(given)
    _apply_online(world, mailbox, target, payload)
    for prop in payload.get("singleValueExtendedProperties") or []:
        if not isinstance(prop, dict) or not prop.get("id"):
            raise GraphError(400, "RequestBodyRead", "An extended property needs an id.")
        target.extended[str(prop["id"])] = str(prop.get("value", ""))


def _apply_online(world: GraphWorld, mailbox: Mailbox, target: StoredEvent, payload: dict[str, Any]) -> None:
    """Once an event is online its meeting stays: later changes to isOnlineMeeting and the
    provider are ignored, as the event resource documents. A new Teams meeting gets a join URL,
    the join block in its body and, with no place of its own, the Teams location."""
    if target.fields.get("onlineMeeting"):
        return
    provider = payload.get("onlineMeetingProvider", target.fields.get("onlineMeetingProvider"))
    if provider is not None and provider not in PROVIDERS:
        raise GraphError(400, "RequestBodyRead", f"Invalid value '{provider}' for 'onlineMeetingProvider'.")
    if "isOnlineMeeting" in payload:
        target.fields["isOnlineMeeting"] = bool(payload["isOnlineMeeting"])
    if not target.fields.get("isOnlineMeeting"):
        if provider is not None:
            target.fields["onlineMeetingProvider"] = provider
        return
    provider = "teamsForBusiness" if provider in (None, "unknown") else provider
    target.fields["onlineMeetingProvider"] = provider
    if provider != "teamsForBusiness":
        return  # the tenant offers Teams only (calendar.allowedOnlineMeetingProviders)
    url = content.join_url(world.rng, world.tenant_id, mailbox.id)
    target.fields["onlineMeeting"] = {"joinUrl": url}
    body = target.fields.get("body") or {"contentType": "text", "content": ""}
    target.fields["body"] = content.with_teams_block(body, url, world.rng)
    if not (target.fields.get("location") or {}).get("displayName"):
        target.fields["location"], target.fields["locations"] = content.location_pair(
            {"displayName": content.TEAMS_LOCATION}
        )


def _touch(world: GraphWorld, target: StoredEvent, now: datetime) -> None:
    target.modified = now
    target.change_key = world.new_change_key()


def _announce(world: GraphWorld, mailbox: Mailbox, item: StoredEvent, kind: str) -> None:
    world.announce(
        Change(mailbox.id, item.calendar_id, item.immutable_id, item.rest_id, kind, etag(item.change_key))
    )


def _recurrence(item: StoredEvent, value: Any) -> dict[str, Any]:
    return complete_recurrence(validate_recurrence(value), item.zone_label or item.start_zone)


def create_event(
    world: GraphWorld,
    mailbox: Mailbox,
    calendar: Calendar,
    payload: Any,
    now: datetime,
    zone_label: str | None = None,
) -> tuple[StoredEvent, bool]:
    """Store a new event; with a known `transactionId` return the existing one instead.

    `zone_label` is how a person's client recorded the zone (see `StoredEvent.zone_label`); the
    Graph routes never pass one: an app's event keeps the zone name it was written with."""
    payload = _check_payload(payload)
    transaction = payload.get("transactionId")
    if transaction:
        existing_id = mailbox.transactions.get(str(transaction))
        existing = mailbox.find(existing_id) if existing_id else None
        if existing is not None:
            return existing, False
    if "start" not in payload or "end" not in payload:
        raise GraphError(400, "ErrorInvalidRequest", "An event needs a start and an end.")
    immutable_id, rest_id = world.new_event_ids(mailbox)
    item = StoredEvent(
        immutable_id=immutable_id,
        rest_id=rest_id,
        calendar_id=calendar.id,
        fields={},
        start=now,
        end=now,
        start_zone="UTC",
        end_zone="UTC",
        is_all_day=False,
        created=now,
        modified=now,
        change_key=world.new_change_key(),
        ical_uid="040000008200E00074C5B7101A82E00800000000" + world.new_hex(20).upper(),
        transaction_id=str(transaction) if transaction else None,
        zone_label=zone_label,
        salt=world.new_salt(),
    )
    _apply_times(item, payload)
    if payload.get("recurrence") is not None:
        item.recurrence = _recurrence(item, payload["recurrence"])
    _apply_fields(world, mailbox, item, payload)
    calendar.events[item.immutable_id] = item
    if item.transaction_id:
        mailbox.transactions[item.transaction_id] = item.immutable_id
    _announce(world, mailbox, item, "created")
    return item, True


def update_target(
    world: GraphWorld, mailbox: Mailbox, target: Instance, payload: Any, now: datetime
) -> StoredEvent:
    """PATCH an item, or one occurrence of a series (which makes it an exception).

    All or nothing: a PATCH refused half-way leaves the stored item as it was.
    """
    before = copy.deepcopy(target.item)
    try:
        return _update(world, mailbox, target, payload, now)
    except GraphError:
        vars(target.item).update(vars(before))
        raise


def _update(
    world: GraphWorld, mailbox: Mailbox, target: Instance, payload: Any, now: datetime
) -> StoredEvent:
    payload = _check_payload(payload)
    if "transactionId" in payload and payload["transactionId"] != target.item.transaction_id:
        raise GraphError(400, "ErrorInvalidPropertyUpdate", "transactionId cannot be changed.")
    item = target.item
    if target.key is None:
        _apply_times(item, payload)
        if "recurrence" in payload:
            item.recurrence = (
                _recurrence(item, payload["recurrence"]) if payload["recurrence"] is not None else None
            )
            item.exceptions.clear()
            item.cancelled.clear()
        _apply_fields(world, mailbox, item, payload)
        _touch(world, item, now)
        _announce(world, mailbox, item, "updated")
        return item
    if "recurrence" in payload:
        raise GraphError(400, "ErrorInvalidRequest", "An occurrence cannot carry a recurrence.")
    exception = item.exceptions.get(target.key) or replace(
        item, fields=dict(item.fields), extended=dict(item.extended), recurrence=None,
        exceptions={}, cancelled=set(), start=target.start, end=target.end, occurrence_index={},
    )  # fmt: skip
    _apply_times(exception, payload)
    _apply_fields(world, mailbox, exception, payload)
    _touch(world, exception, now)
    item.exceptions[target.key] = exception
    _touch(world, item, now)  # Exchange keeps exceptions inside the master item: it changed too
    _announce(world, mailbox, item, "updated")
    return exception


def delete_target(world: GraphWorld, mailbox: Mailbox, target: Instance, now: datetime) -> None:
    item = target.item
    if target.key is None:
        mailbox.calendars[item.calendar_id].events.pop(item.immutable_id, None)
        _announce(world, mailbox, item, "deleted")
        return
    item.exceptions.pop(target.key, None)
    item.cancelled.add(target.key)
    _touch(world, item, now)
    _announce(world, mailbox, item, "updated")


def move_event(
    world: GraphWorld, mailbox: Mailbox, item: StoredEvent, calendar: Calendar, now: datetime
) -> StoredEvent:
    """A person drags an event to another calendar: its default-format id changes, as in Exchange."""
    if item.calendar_id == calendar.id:
        return item
    mailbox.calendars[item.calendar_id].events.pop(item.immutable_id, None)
    _announce(world, mailbox, item, "deleted")
    item.calendar_id = calendar.id
    item.rest_id = world.new_event_ids(mailbox)[1]
    _touch(world, item, now)
    calendar.events[item.immutable_id] = item
    _announce(world, mailbox, item, "created")
    return item


def respond(world: GraphWorld, mailbox: Mailbox, target: Instance, response: str, now: datetime) -> None:
    """The mailbox's owner answers an invitation (accepted, tentativelyAccepted, declined)."""
    if response not in {"accepted", "tentativelyAccepted", "declined", "none"}:
        raise GraphError(400, "ErrorInvalidRequest", f"Unknown response '{response}'.")
    status = {"response": response, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    update_target(world, mailbox, target, {}, now).fields["responseStatus"] = status
