"""Control routes under `/_control/graph/` (their client is `sandbox.graph.client.GraphControl`).

They let a test or the demo act as a person in Outlook (create, edit, move, delete, respond --
each triggers notifications like a real edit), read a calendar's whole state, shape the tenant
(mailboxes, calendars, the app's access policy, the app registration's client secrets and token
lifetime) and misbehave on purpose (lifecycle events, expired delta links, silently removed
subscriptions). No bearer token: loopback only.

A person does not know ids: an occurrence is reached by its series and original start
(`.../events/{series}/occurrences/{original}`), and a person's client may record its zone the
way desktop Outlook and other clients do (`originalStartTimeZone` on create:
`tzone://Microsoft/Custom`, `tzone://Microsoft/Utc` or `Customized Time Zone`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.graph.errors import GraphError, error_body
from sandbox.graph.events import resolve_target
from sandbox.graph.instances import Instance, find_occurrence
from sandbox.graph.mailbox_settings import automatic_replies, set_automatic_replies
from sandbox.graph.prefs import Prefs
from sandbox.graph.recurrence import occurrence_key
from sandbox.graph.render import render_instance, render_item
from sandbox.graph.settings import settings_view, update_settings
from sandbox.graph.state import Calendar, Mailbox
from sandbox.graph.writes import create_event, delete_target, move_event, respond, update_target

if TYPE_CHECKING:
    from sandbox.graph.context import GraphContext

__all__ = ["PREFIX", "add_control_routes", "calendar_state"]

PREFIX = "/_control/graph"
LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}
ZONE_LABELS = {"tzone://Microsoft/Custom", "tzone://Microsoft/Utc", "Customized Time Zone"}
_SHOW = Prefs(immutable_ids=True)
BULK_MAX = 100_000


def _mailbox_info(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "id": mailbox.id,
        "address": mailbox.address,
        "displayName": mailbox.display_name,
        "timeZone": mailbox.time_zone,
        "calendars": [
            {"id": c.id, "name": c.name, "isDefault": c.is_default} for c in mailbox.calendars.values()
        ],
    }


def calendar_state(mailbox: Mailbox, calendar: Calendar) -> dict[str, Any]:
    """Everything stored in a calendar, with immutable ids and every extended property."""
    items = []
    for item in sorted(calendar.events.values(), key=lambda e: (e.start, e.immutable_id)):
        row = render_item(mailbox, item, _SHOW, {"*"})
        row["restId"] = item.rest_id
        if item.recurrence is not None:
            row["exceptions"] = [
                render_instance(
                    mailbox, Instance(item, key, copy, copy.start, copy.end, "exception"), _SHOW, {"*"}
                )
                for key, copy in sorted(item.exceptions.items())
            ]
            row["cancelledOccurrences"] = sorted(item.cancelled)
        items.append(row)
    return {"mailbox": mailbox.address, "calendarId": calendar.id, "name": calendar.name, "events": items}


def _zone_label(body: dict[str, Any]) -> str | None:
    """How the person's client recorded the zone (popped from the body: not a Graph write)."""
    label = body.pop("originalStartTimeZone", None)
    body.pop("originalEndTimeZone", None)
    if label is not None and label not in ZONE_LABELS:
        raise GraphError(400, "BadRequest", f"originalStartTimeZone must be one of {sorted(ZONE_LABELS)}.")
    return None if label is None else str(label)


def _occurrence(mailbox: Mailbox, series_id: str, original: str) -> Instance:
    """A series' occurrence by its original start (UTC instant, or the date of an all-day one)."""
    target = resolve_target(mailbox, series_id)
    if target.key is not None or target.item.recurrence is None:
        raise GraphError(400, "BadRequest", "Not a series.")
    try:
        if "T" in original:
            moment = datetime.fromisoformat(original.replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        else:
            moment = datetime.combine(date.fromisoformat(original), time(0), UTC)
    except ValueError as exc:
        raise GraphError(400, "BadRequest", f"Cannot read the original start '{original}'.") from exc
    found = find_occurrence(target.item, occurrence_key(moment))
    if found is None:
        raise GraphError(404, "ErrorItemNotFound", "The series has no occurrence starting then.")
    return found


def add_control_routes(app: web.Application, ctx: GraphContext) -> None:
    world = ctx.world

    def mailbox_of(request: web.Request) -> Mailbox:
        mailbox = world.mailbox(request.match_info["user"])
        if mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", "No such mailbox.")
        return mailbox

    def calendar_of(request: web.Request, mailbox: Mailbox) -> Calendar:
        key = request.match_info.get("calendar", "default")
        if key == "default":
            return mailbox.default_calendar
        calendar = mailbox.calendars.get(key) or next(
            (c for c in mailbox.calendars.values() if c.name == key), None
        )
        if calendar is None:
            raise GraphError(404, "ErrorItemNotFound", "No such calendar.")
        return calendar

    async def body_of(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        value = json.loads(raw) if raw else {}
        if not isinstance(value, dict):
            raise GraphError(400, "BadRequest", "Expected a JSON object.")
        return value

    def handled(
        fn: Callable[[web.Request], Awaitable[Any]], status: int = 200
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapper(request: web.Request) -> web.Response:
            try:
                result = await fn(request)
            except GraphError as exc:
                return web.json_response(error_body(exc.code, exc.message), status=exc.status)
            if result is None:
                return web.Response(status=204)
            return web.json_response(result, status=status)

        return wrapper

    async def get_world(_: web.Request) -> Any:
        return {
            "tenantId": world.tenant_id,
            "clientId": world.client_id,
            "clientSecret": world.client_secret,
            "clientSecrets": list(world.client_secrets),
            "allowedMailboxes": None if world.allowed_mailboxes is None else sorted(world.allowed_mailboxes),
            "mailboxes": [_mailbox_info(m) for m in world.mailboxes.values()],
        }

    async def bulk_users(request: web.Request) -> Any:
        """`count` mailboxes `{prefix}{n:05d}@{domain}` (n from `start`); existing ones are kept."""
        body = await body_of(request)
        count, start = body.get("count"), body.get("start", 0)
        if not isinstance(count, int) or not 0 < count <= BULK_MAX or not isinstance(start, int) or start < 0:
            raise GraphError(400, "BadRequest", f"'count' must be an integer from 1 to {BULK_MAX}.")
        prefix, domain = str(body.get("prefix") or "user"), str(body.get("domain") or "example.com")
        addresses = [f"{prefix}{n:05d}@{domain}" for n in range(start, start + count)]
        for address in addresses:
            if world.mailbox(address) is None:
                world.add_mailbox(address, f"{prefix.title()} {address[len(prefix) : address.index('@')]}")
        return {
            "created": count,
            "first": addresses[0],
            "last": addresses[-1],
            "total": len(world.mailboxes),
        }

    async def get_quota(_: web.Request) -> Any:
        return {
            "mailboxRequests": ctx.quota.limit,
            "windowSeconds": ctx.quota.window.total_seconds(),
            "mailboxConcurrency": ctx.gate.limit,
            "peaks": {"mailboxRequests": ctx.quota.peak, "mailboxConcurrency": ctx.gate.peak},
        }

    async def put_quota(request: web.Request) -> Any:
        """`mailboxRequests` per window (null: unlimited), `mailboxConcurrency`; `"peaks": null`
        forgets the peaks reached."""
        body = await body_of(request)
        if "mailboxRequests" in body:
            limit = body["mailboxRequests"]
            ctx.quota.limit = None if limit is None else int(limit)
        if "mailboxConcurrency" in body:
            ctx.gate.limit = int(body["mailboxConcurrency"])
        if "peaks" in body:
            ctx.quota.peak = ctx.gate.peak = 0
        return await get_quota(request)

    async def add_mailbox(request: web.Request) -> Any:
        body = await body_of(request)
        if not body.get("address"):
            raise GraphError(400, "BadRequest", "A mailbox needs an address.")
        existing = world.mailbox(str(body["address"]))
        mailbox = existing or world.add_mailbox(str(body["address"]), body.get("displayName"))
        if body.get("timeZone"):  # the zone the owner chose in Outlook (mailboxSettings.timeZone)
            mailbox.time_zone = str(body["timeZone"])
        return _mailbox_info(mailbox)

    async def add_calendar(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        calendar = world.add_calendar(mailbox, str((await body_of(request)).get("name", "Calendar")))
        return {"id": calendar.id, "name": calendar.name, "isDefault": False}

    def app_info() -> dict[str, Any]:
        return {
            "clientSecrets": list(world.client_secrets),
            "tokenLifetimeSeconds": int(world.token_lifetime.total_seconds()),
        }

    async def get_app(_: web.Request) -> Any:
        return app_info()

    async def set_app(request: web.Request) -> Any:
        """An admin edits the app registration: its client secrets (a rotation adds the new one,
        then removes the old), and how long the tokens it is issued from now on live."""
        body = await body_of(request)
        if "clientSecrets" in body:
            secrets = body["clientSecrets"]
            if not isinstance(secrets, list) or not all(isinstance(s, str) and s for s in secrets):
                raise GraphError(400, "BadRequest", "clientSecrets must be a list of non-empty strings.")
            world.client_secrets = list(secrets)
            if secrets:
                world.client_secret = secrets[0]
        if "tokenLifetimeSeconds" in body:
            seconds = body["tokenLifetimeSeconds"]
            if not isinstance(seconds, int) or seconds < 1:
                raise GraphError(400, "BadRequest", "tokenLifetimeSeconds must be a positive integer.")
            world.token_lifetime = timedelta(seconds=seconds)
        return app_info()

    async def set_access(request: web.Request) -> Any:
        allowed = (await body_of(request)).get("allowed")
        world.allowed_mailboxes = None if allowed is None else {str(a) for a in allowed}
        return {"allowed": allowed}

    async def read_state(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        return calendar_state(mailbox, calendar_of(request, mailbox))

    async def person_create(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        body = await body_of(request)
        label = _zone_label(body)
        item, _ = create_event(world, mailbox, calendar_of(request, mailbox), body, ctx.clock.now(), label)
        return {**render_item(mailbox, item, _SHOW, {"*"}), "restId": item.rest_id}

    async def person_update(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        target = resolve_target(mailbox, request.match_info["event"])
        update_target(world, mailbox, target, await body_of(request), ctx.clock.now())
        return render_instance(mailbox, resolve_target(mailbox, request.match_info["event"]), _SHOW, {"*"})

    async def person_delete(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        delete_target(world, mailbox, resolve_target(mailbox, request.match_info["event"]), ctx.clock.now())
        return None

    async def person_move(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        target = resolve_target(mailbox, request.match_info["event"])
        destination = mailbox.calendars.get(str((await body_of(request)).get("calendarId")))
        if destination is None:
            raise GraphError(404, "ErrorItemNotFound", "No such calendar.")
        item = move_event(world, mailbox, target.item, destination, ctx.clock.now())
        return {"id": item.immutable_id, "restId": item.rest_id, "calendarId": item.calendar_id}

    async def occurrence_get(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        found = _occurrence(mailbox, request.match_info["event"], request.match_info["original"])
        rest_id = render_instance(mailbox, found, Prefs())["id"]
        return {**render_instance(mailbox, found, _SHOW, {"*"}), "restId": rest_id}

    async def occurrence_update(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        found = _occurrence(mailbox, request.match_info["event"], request.match_info["original"])
        update_target(world, mailbox, found, await body_of(request), ctx.clock.now())
        refreshed = find_occurrence(found.item, str(found.key))
        assert refreshed is not None
        return render_instance(mailbox, refreshed, _SHOW, {"*"})

    async def occurrence_delete(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        found = _occurrence(mailbox, request.match_info["event"], request.match_info["original"])
        delete_target(world, mailbox, found, ctx.clock.now())
        return None

    async def get_settings(_: web.Request) -> Any:
        return settings_view(world)

    async def put_settings(request: web.Request) -> Any:
        update_settings(world, await body_of(request))
        return settings_view(world)

    async def person_respond(request: web.Request) -> Any:
        mailbox = mailbox_of(request)
        target = resolve_target(mailbox, request.match_info["event"])
        respond(world, mailbox, target, str((await body_of(request)).get("response")), ctx.clock.now())
        return None

    async def list_subscriptions(_: web.Request) -> Any:
        from sandbox.graph.subscriptions import render_subscription

        return {"value": [render_subscription(world, s) for s in world.subscriptions.values()]}

    async def remove_subscription(request: web.Request) -> Any:
        if world.subscriptions.pop(request.match_info["sub"], None) is None:
            raise GraphError(404, "ResourceNotFound", "No such subscription.")
        return None

    async def fire_lifecycle(request: web.Request) -> Any:
        sub = world.subscriptions.get(request.match_info["sub"])
        if sub is None:
            raise GraphError(404, "ResourceNotFound", "No such subscription.")
        event = str((await body_of(request)).get("event"))
        if event not in LIFECYCLE_EVENTS:
            raise GraphError(400, "BadRequest", f"lifecycle event must be one of {sorted(LIFECYCLE_EVENTS)}.")
        if event == "subscriptionRemoved":
            world.subscriptions.pop(sub.id, None)
        task = ctx.notifier.send_lifecycle(sub, event)
        return {"sent": task is not None}

    async def expire_delta(request: web.Request) -> Any:
        key = (await body_of(request)).get("mailbox")
        mailbox = world.mailbox(str(key)) if key else None
        if key and mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", "No such mailbox.")
        return {"expired": ctx.delta.expire(mailbox.id if mailbox else None)}

    async def get_replies(request: web.Request) -> Any:
        return automatic_replies(mailbox_of(request))

    async def put_replies(request: web.Request) -> Any:
        """A person turning Outlook's automatic replies on or off (no notification follows)."""
        return set_automatic_replies(mailbox_of(request), await body_of(request))

    async def notifications(_: web.Request) -> Any:
        return {"delivered": ctx.notifier.delivered, "failed": ctx.notifier.failed}

    user, event = PREFIX + "/mailboxes/{user}", PREFIX + "/mailboxes/{user}/events/{event}"
    app.router.add_get(PREFIX + "/world", handled(get_world))
    app.router.add_post(PREFIX + "/mailboxes", handled(add_mailbox, 201))
    app.router.add_post(PREFIX + "/users:bulk", handled(bulk_users, 201))
    app.router.add_get(PREFIX + "/quota", handled(get_quota))
    app.router.add_put(PREFIX + "/quota", handled(put_quota))
    app.router.add_post(user + "/calendars", handled(add_calendar, 201))
    app.router.add_put(PREFIX + "/access", handled(set_access))
    app.router.add_get(PREFIX + "/app", handled(get_app))
    app.router.add_put(PREFIX + "/app", handled(set_app))
    app.router.add_get(user + "/calendars/{calendar}/state", handled(read_state))
    app.router.add_post(user + "/calendars/{calendar}/events", handled(person_create, 201))
    app.router.add_patch(event, handled(person_update))
    app.router.add_delete(event, handled(person_delete))
    app.router.add_post(event + "/move", handled(person_move))
    app.router.add_post(event + "/respond", handled(person_respond))
    occurrence = event + "/occurrences/{original}"
    app.router.add_get(occurrence, handled(occurrence_get))
    app.router.add_patch(occurrence, handled(occurrence_update))
    app.router.add_delete(occurrence, handled(occurrence_delete))
    app.router.add_get(PREFIX + "/settings", handled(get_settings))
    app.router.add_put(PREFIX + "/settings", handled(put_settings))
    app.router.add_get(PREFIX + "/subscriptions", handled(list_subscriptions))
    app.router.add_delete(PREFIX + "/subscriptions/{sub}", handled(remove_subscription))
    app.router.add_post(PREFIX + "/subscriptions/{sub}/lifecycle", handled(fire_lifecycle))
    app.router.add_post(PREFIX + "/delta/expire", handled(expire_delta))
    app.router.add_get(PREFIX + "/notifications", handled(notifications))
    app.router.add_get(user + "/automatic-replies", handled(get_replies))
    app.router.add_put(user + "/automatic-replies", handled(put_replies))
