"""Graph's event routes: calendars, events (CRUD), instances and calendarView.

Every answer carries `@odata.context`, as Graph's do. GETs honour `$select` (see `render`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sandbox.graph.errors import GraphError, not_found
from sandbox.graph.instances import Instance, expand, expand_all, find_occurrence
from sandbox.graph.invitations import invitation_for
from sandbox.graph.mailbox_settings import automatic_replies
from sandbox.graph.odata import context_url
from sandbox.graph.query import parse_expand, parse_filter, parse_select, parse_window
from sandbox.graph.render import render_instance, render_item
from sandbox.graph.routing import EVENTS, USER, VIEW, Call, Reply, Route, route
from sandbox.graph.state import Calendar, Mailbox
from sandbox.graph.writes import create_event, delete_target, update_target

__all__ = ["ROUTES", "resolve_target"]

DEFAULT_PAGE = 10


def _mailbox(call: Call) -> Mailbox:
    assert call.mailbox is not None
    return call.mailbox


def _calendar(call: Call) -> Calendar:
    mailbox = _mailbox(call)
    calendar_id = call.match.groupdict().get("calendar") if call.match else None
    if calendar_id is None:
        return mailbox.default_calendar
    calendar = mailbox.calendars.get(calendar_id)
    if calendar is None:
        raise not_found()
    return calendar


def resolve_target(mailbox: Mailbox, event_id: str) -> Instance:
    """The item or occurrence an event id names, in any calendar of the mailbox."""
    located = mailbox.locate(event_id)
    if located is None:
        raise not_found()
    item, key = located
    if key is None:
        kind = "seriesMaster" if item.recurrence is not None else "singleInstance"
        return Instance(item, None, item, item.start, item.end, kind)
    found = find_occurrence(item, key)
    if found is None:
        raise not_found()
    return found


def _page(call: Call, rows: list[dict[str, Any]], path: str, default: int = DEFAULT_PAGE) -> dict[str, Any]:
    lowered = {k.lower(): v for k, v in call.query.items()}
    top = int(lowered.get("$top") or call.prefs.max_page_size or default)
    skip = int(lowered.get("$skip") or 0)
    out: dict[str, Any] = {"@odata.context": context_url(call, _select(call))}
    out["value"] = rows[skip : skip + top]
    if skip + top < len(rows):
        params = [(k, v) for k, v in call.query.items() if k.lower() not in ("$skip",)]
        params.append(("$skip", str(skip + top)))
        out["@odata.nextLink"] = call.link(path) + "?" + urlencode(params)
    return out


def _select(call: Call) -> list[str] | None:
    lowered = {k.lower(): v for k, v in call.query.items()}
    return parse_select(lowered.get("$select"))


def render_calendar(mailbox: Mailbox, calendar: Calendar) -> dict[str, Any]:
    """A calendar as Graph shows one the mailbox owns (the app acts with the owner's rights)."""
    return {
        "id": calendar.id,
        "name": calendar.name,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": calendar.is_default,
        "changeKey": calendar.change_key,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not calendar.is_default,
        "owner": {"name": mailbox.display_name, "address": mailbox.address},
    }


async def list_calendars(call: Call) -> Reply:
    mailbox = _mailbox(call)
    rows = [render_calendar(mailbox, c) for c in mailbox.calendars.values()]
    return Reply(200, {"@odata.context": context_url(call), "value": rows})


async def list_events(call: Call) -> Reply:
    mailbox, calendar = _mailbox(call), _calendar(call)
    lowered = {k.lower(): v for k, v in call.query.items()}
    wanted = parse_filter(lowered.get("$filter"))
    expand_ids = parse_expand(lowered.get("$expand"))
    items = sorted(calendar.events.values(), key=lambda e: (e.start, e.immutable_id))
    rows = [
        render_item(mailbox, item, call.prefs, expand_ids, _select(call))
        for item in items
        if wanted is None or wanted.matches(item)
    ]
    return Reply(200, _page(call, rows, call.path))


async def post_event(call: Call) -> Reply:
    mailbox, calendar = _mailbox(call), _calendar(call)
    payload = dict(call.body) if isinstance(call.body, dict) else call.body
    if isinstance(payload, dict):
        payload.pop("organizer", None)  # the mailbox organizes whatever an app creates in it
    now = call.ctx.clock.now()
    item, created = create_event(call.ctx.world, mailbox, calendar, payload, now)
    if created:
        invitation = invitation_for("create", mailbox, item.immutable_id, item)
        if invitation is not None:
            call.ctx.counters.invitations.append(invitation)
    row = render_item(mailbox, item, call.prefs)
    return Reply(201, {"@odata.context": context_url(call, entity=True), **row})


async def get_event(call: Call) -> Reply:
    mailbox = _mailbox(call)
    target = resolve_target(mailbox, call.param("event"))
    lowered = {k.lower(): v for k, v in call.query.items()}
    row = render_instance(mailbox, target, call.prefs, parse_expand(lowered.get("$expand")), _select(call))
    return Reply(200, {"@odata.context": context_url(call, _select(call), entity=True), **row})


def _check_if_match(call: Call, target: Instance) -> None:
    """Optimistic concurrency: `If-Match` with a stale `@odata.etag` is refused with 412."""
    wanted = call.headers.get("If-Match")
    if not wanted or wanted.strip() == "*":
        return
    current = render_instance(_mailbox(call), target, call.prefs)["@odata.etag"]
    if wanted.strip() != current:
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the "
            "request does not match the current change key for the item.",
        )


async def patch_event(call: Call) -> Reply:
    mailbox = _mailbox(call)
    target = resolve_target(mailbox, call.param("event"))
    _check_if_match(call, target)
    if not isinstance(call.body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    payload = {k: v for k, v in call.body.items() if k != "organizer"}
    shown = update_target(call.ctx.world, mailbox, target, payload, call.ctx.clock.now())
    invitation = invitation_for("update", mailbox, target.item.immutable_id, shown, payload)
    if invitation is not None:
        call.ctx.counters.invitations.append(invitation)
    refreshed = resolve_target(mailbox, call.param("event"))
    row = render_instance(mailbox, refreshed, call.prefs)
    return Reply(200, {"@odata.context": context_url(call, entity=True), **row})


async def delete_event(call: Call) -> Reply:
    mailbox = _mailbox(call)
    target = resolve_target(mailbox, call.param("event"))
    _check_if_match(call, target)
    invitation = invitation_for("delete", mailbox, target.item.immutable_id, target.shown)
    delete_target(call.ctx.world, mailbox, target, call.ctx.clock.now())
    if invitation is not None:
        call.ctx.counters.invitations.append(invitation)
    return Reply(204)


async def list_instances(call: Call) -> Reply:
    mailbox = _mailbox(call)
    target = resolve_target(mailbox, call.param("event"))
    start, end = parse_window(call.query)
    if target.item.recurrence is None or target.key is not None:
        raise GraphError(400, "ErrorInvalidRequest", "The event is not the master of a series.")
    rows = [
        render_instance(mailbox, inst, call.prefs, select=_select(call))
        for inst in expand(target.item, start, end)
    ]
    return Reply(200, _page(call, rows, call.path))


async def calendar_view(call: Call) -> Reply:
    mailbox, calendar = _mailbox(call), _calendar(call)
    start, end = parse_window(call.query)
    lowered = {k.lower(): v for k, v in call.query.items()}
    expand_ids = parse_expand(lowered.get("$expand"))
    instances = expand_all(calendar.events.values(), start, end)
    select = _select(call)
    rows = [
        render_instance(mailbox, inst, call.prefs, expand_ids, select, slot_known=False) for inst in instances
    ]
    return Reply(200, _page(call, rows, call.path))


async def get_mailbox_settings(call: Call) -> Reply:
    """`GET /users/{id}/mailboxSettings`: the owner's zone, working hours and automatic replies,
    as Graph answers (the zone as Outlook stores it, a Windows name unless set through the API;
    `$select` honoured)."""
    mailbox = _mailbox(call)
    zone = mailbox.time_zone
    settings = {
        "@odata.context": call.link(f"/$metadata#users('{mailbox.address}')/mailboxSettings"),
        "timeZone": zone,
        "automaticRepliesSetting": automatic_replies(mailbox),
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "userPurpose": "user",
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": zone},
        },
    }
    select = {k.lower(): v for k, v in call.query.items()}.get("$select")
    if select:
        wanted = {name.strip().lower() for name in select.split(",")}
        settings = {k: v for k, v in settings.items() if k.startswith("@") or k.lower() in wanted}
    return Reply(200, settings)


ONE = EVENTS + r"/(?P<event>[^/]+)"
ROUTES: list[Route] = [
    route("GET", USER + r"/calendars", "calendars.list", list_calendars),
    route("GET", USER + r"/mailboxSettings", "mailboxSettings.get", get_mailbox_settings),
    route("GET", VIEW, "calendarView.list", calendar_view),
    route("GET", ONE + r"/instances", "events.instances", list_instances),
    route("GET", ONE, "events.get", get_event),
    route("PATCH", ONE, "events.update", patch_event),
    route("DELETE", ONE, "events.delete", delete_event),
    route("GET", EVENTS, "events.list", list_events),
    route("POST", EVENTS, "events.create", post_event),
]
