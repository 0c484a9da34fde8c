"""`/_control/google/...`: act as a person in a Google calendar and look at the whole state.

A person's writes go through the same world methods as API writes, so they bump serials and
notify channels alike; they are not counted as API writes (no `sendUpdates`, no invitations).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.google.emulator import EMULATOR, GoogleEmulator
from sandbox.google.errors import GoogleApiError, error_response
from sandbox.google.state import GoogleUser
from sandbox.google.tokens import GMAIL_SETTINGS

__all__ = ["add_routes"]

PREFIX = "/_control/google"
ControlHandler = Callable[[web.Request, GoogleEmulator, dict[str, Any]], Any]


def _route(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        emulator = request.app[EMULATOR]
        try:
            raw = await request.read() if request.can_read_body else b""
            body = json.loads(raw) if raw else {}
            result = handler(request, emulator, body)
        except GoogleApiError as exc:
            return error_response(exc)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if result is None:
            return web.Response(status=204)
        return web.json_response(result)

    return handle


def _calendar_state(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    calendar = emu.world.calendars.get(request.match_info["calendarId"])
    if calendar is None:
        raise GoogleApiError.not_found()
    events = sorted(calendar.events.values(), key=lambda e: calendar.serials[e["id"]])
    return {
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "acl": calendar.acl,
        "tokenEpoch": calendar.token_epoch,
        "events": events,
        "channels": [c.describe() for c in emu.hub.channels.values() if c.calendar_id == calendar.id],
    }


def _calendars(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "calendars": [
            {"id": c.id, "summary": c.summary, "timeZone": c.time_zone, "acl": c.acl}
            for c in emu.world.calendars.values()
        ]
    }


def _add_calendar(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """A secondary calendar, as a person makes one: `id`, `owner`, optional `summary`, `timeZone`."""
    calendar_id, owner = body.get("id"), body.get("owner")
    if not isinstance(calendar_id, str) or not calendar_id or not isinstance(owner, str) or not owner:
        raise ValueError("a calendar needs an 'id' and an 'owner'")
    if calendar_id in emu.world.calendars:
        raise ValueError(f"calendar {calendar_id!r} exists already")
    calendar = emu.world.add_calendar(
        calendar_id,
        str(body.get("summary") or calendar_id),
        str(body.get("timeZone") or "UTC"),
        {owner: "owner"},
    )
    return {
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "acl": calendar.acl,
    }


def _known(emu: GoogleEmulator, request: web.Request) -> Any:
    calendar = emu.world.calendars.get(request.match_info["calendarId"])
    if calendar is None:
        raise GoogleApiError.not_found()
    return calendar


def _create(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    calendar = _known(emu, request)
    actor = body.get("actor") or calendar.id
    return emu.world.insert_event(calendar, body.get("event", {}), actor, None, 1, record=False)


def _edit(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    calendar = _known(emu, request)
    actor = body.get("actor") or calendar.id
    event_id = request.match_info["eventId"]
    return emu.world.update_event(
        calendar,
        event_id,
        body.get("changes", {}),
        actor,
        None,
        patch=True,
        conference_version=1,
        record=False,
    )


def _delete(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> None:
    emu.world.delete_event(_known(emu, request), request.match_info["eventId"], None, record=False)


def _move(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    destination = emu.world.calendars.get(str(body.get("destination")))
    if destination is None:
        raise GoogleApiError.not_found()
    return emu.world.move_event(_known(emu, request), request.match_info["eventId"], destination)


def _respond(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    calendar = _known(emu, request)
    return emu.world.respond(
        calendar, request.match_info["eventId"], str(body.get("attendee")), str(body.get("responseStatus"))
    )


def _expire_tokens(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> None:
    emu.world.expire_sync_tokens(_known(emu, request))


def _channels(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "channels": [
            {**c.describe(), "address": c.address, "calendarId": c.calendar_id}
            for c in emu.hub.channels.values()
        ],
        "deliveries": [vars(d) for d in emu.hub.deliveries],
    }


def _settings(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """GET reads, PUT changes: `guestCopies` (events appear on invited users' calendars),
    `meetPending` (a Meet's createRequest answers `pending` and completes at the calendar's next
    API call) and `userQuotaPerMinute` (calls per user per sliding minute; null: unlimited)."""
    if "guestCopies" in body:
        emu.world.guest_copies = bool(body["guestCopies"])
    if "meetPending" in body:
        emu.world.meet_pending = bool(body["meetPending"])
    if "userQuotaPerMinute" in body:
        emu.quota.update({"userPerMinute": body["userQuotaPerMinute"]})
    if "gmailSettingsDelegated" in body:  # the admin adds (or removes) gmail.settings.basic
        if body["gmailSettingsDelegated"]:
            emu.issuer.delegated.add(GMAIL_SETTINGS)
        else:
            emu.issuer.delegated.discard(GMAIL_SETTINGS)
    return {
        "guestCopies": emu.world.guest_copies,
        "meetPending": emu.world.meet_pending,
        "userQuotaPerMinute": emu.quota.user.limit,
        "gmailSettingsDelegated": GMAIL_SETTINGS in emu.issuer.delegated,
    }


def _quota(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """GET reads, PUT sets the request quotas (`userPerMinute`, `projectPerMinute`,
    `projectPerDay`; null: unlimited) and `"peaks": null` forgets the peaks reached."""
    emu.quota.update(body)
    return emu.quota.view()


BULK_MAX = 100_000


def _bulk_users(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """`count` people `{prefix}{n:05d}@{domain}` (n from `start`, default 0), each with a primary
    calendar; existing ones are left as they are."""
    count, start = body.get("count"), body.get("start", 0)
    if not isinstance(count, int) or not 0 < count <= BULK_MAX or not isinstance(start, int) or start < 0:
        raise ValueError(f"'count' must be an integer from 1 to {BULK_MAX} ('start' >= 0)")
    prefix, domain = str(body.get("prefix") or "user"), str(body.get("domain") or emu.world.domains[0])
    if domain not in emu.world.domains:
        raise ValueError(f"domain {domain!r} is not one of {list(emu.world.domains)}")
    zone = str(body.get("timeZone") or "UTC")
    users = [
        GoogleUser(f"{prefix}{n:05d}@{domain}", f"{prefix.title()} {n}", zone)
        for n in range(start, start + count)
    ]
    emu.add_users(users)
    return {"created": count, "first": users[0].email, "last": users[-1].email, "users": len(emu.world.users)}


def _reset(request: web.Request, emu: GoogleEmulator, body: dict[str, Any]) -> None:
    emu.reset()


def add_routes(app: web.Application) -> None:
    cal = f"{PREFIX}/calendars/{{calendarId}}"
    app.router.add_get(f"{PREFIX}/calendars", _route(_calendars))
    app.router.add_post(f"{PREFIX}/calendars", _route(_add_calendar))
    app.router.add_get(cal, _route(_calendar_state))
    app.router.add_post(f"{cal}/events", _route(_create))
    app.router.add_patch(f"{cal}/events/{{eventId}}", _route(_edit))
    app.router.add_delete(f"{cal}/events/{{eventId}}", _route(_delete))
    app.router.add_post(f"{cal}/events/{{eventId}}/move", _route(_move))
    app.router.add_post(f"{cal}/events/{{eventId}}/respond", _route(_respond))
    app.router.add_post(f"{cal}/expire-sync-tokens", _route(_expire_tokens))
    app.router.add_get(f"{PREFIX}/channels", _route(_channels))
    app.router.add_get(f"{PREFIX}/settings", _route(_settings))
    app.router.add_put(f"{PREFIX}/settings", _route(_settings))
    app.router.add_post(f"{PREFIX}/reset", _route(_reset))
    app.router.add_get(f"{PREFIX}/quota", _route(_quota))
    app.router.add_put(f"{PREFIX}/quota", _route(_quota))
    app.router.add_post(f"{PREFIX}/users:bulk", _route(_bulk_users))
