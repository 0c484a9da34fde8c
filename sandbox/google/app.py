"""The Google Calendar v3 HTTP surface (plus the OAuth token endpoint) as an aiohttp app.

Every API call goes through `operation`: fault injection (`google.<operation>`), the bearer
check, Google's JSON error shapes, and the call counter by operation and status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from sandbox.google import batch, control, gmail
from sandbox.google.emulator import EMULATOR, GoogleEmulator
from sandbox.google.errors import GoogleApiError, error_response, fault_error, unknown_route
from sandbox.google.freebusy import query_free_busy
from sandbox.google.state import ROLE_RANK
from sandbox.google.sync import ListQuery, list_events, list_instances
from sandbox.google.tokens import AccessGrant, TokenError

__all__ = ["EMULATOR", "build_google_app"]

API = "/calendar/v3"
SEND_UPDATES = {"all", "externalOnly", "none"}

Handler = Callable[[web.Request, GoogleEmulator, AccessGrant], Awaitable[web.StreamResponse]]
Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def operation(
    name: str, *, write: bool = False
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            emulator = request.app[EMULATOR]
            status = 500
            try:
                fault = await emulator.faults.before(f"google.{name}")
                if fault is not None:
                    raise fault_error(fault.status, fault.retry_after, fault.reason)
                grant = _authorize(emulator, request, write)
                response = await handler(request, emulator, grant)
                status = response.status
                return response
            except GoogleApiError as exc:
                status = exc.status
                return error_response(exc)
            finally:
                emulator.counters.call(f"google.{name}", status)

        return handle

    return wrap


def _authorize(emulator: GoogleEmulator, request: web.Request, write: bool) -> AccessGrant:
    grant = emulator.issuer.check(request.headers.get("Authorization"))
    if grant is None:
        raise GoogleApiError(
            401,
            "authError",
            "Invalid Credentials",
            extra={"location": "Authorization", "locationType": "header"},
        )
    refusal = emulator.quota.admit(
        emulator.account.project_id, grant.subject or emulator.account.client_email, emulator.clock.now()
    )
    if refusal is not None:
        raise GoogleApiError(403, refusal.reason, refusal.message, extra={"domain": "usageLimits"})
    if write and not grant.can_write:
        raise GoogleApiError(
            403, "insufficientPermissions", "Request had insufficient authentication scopes."
        )
    return grant


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise GoogleApiError.bad_request("Parse Error", "parseError") from exc
    if not isinstance(body, dict):
        raise GoogleApiError.bad_request("Parse Error", "parseError")
    return body


def _send_updates(request: web.Request) -> str | None:
    value = request.query.get("sendUpdates")
    if value is None and request.query.get("sendNotifications") is not None:  # deprecated spelling
        value = "all" if request.query["sendNotifications"].lower() == "true" else "none"
    if value is not None and value not in SEND_UPDATES:
        raise GoogleApiError.bad_request(f"Invalid value for sendUpdates: {value}")
    return value


def _conference_version(request: web.Request) -> int:
    try:
        return int(request.query.get("conferenceDataVersion", "0"))
    except ValueError as exc:
        raise GoogleApiError.bad_request("Invalid conferenceDataVersion.") from exc


def _actor(emulator: GoogleEmulator, grant: AccessGrant) -> str:
    return grant.subject or emulator.account.client_email


# -- events -------------------------------------------------------------------------------------


@operation("events.list")
async def events_list(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject)
    query = ListQuery.parse(request.query)
    role = emu.world.role(calendar, grant.subject)
    return web.json_response(list_events(emu.world, emu.ledger, calendar, query, role))


@operation("events.insert", write=True)
async def events_insert(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject, "writer")
    body = await _body(request)
    event = emu.world.insert_event(
        calendar, body, _actor(emu, grant), _send_updates(request), _conference_version(request)
    )
    return web.json_response(event)


@operation("events.get")
async def events_get(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject)
    return web.json_response(emu.world.get_event(calendar, request.match_info["eventId"]))


async def _write(
    request: web.Request, emu: GoogleEmulator, grant: AccessGrant, *, patch: bool
) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject, "writer")
    event = emu.world.update_event(
        calendar,
        request.match_info["eventId"],
        await _body(request),
        _actor(emu, grant),
        _send_updates(request),
        patch=patch,
        conference_version=_conference_version(request),
        if_match=request.headers.get("If-Match"),
    )
    return web.json_response(event)


@operation("events.update", write=True)
async def events_update(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    return await _write(request, emu, grant, patch=False)


@operation("events.patch", write=True)
async def events_patch(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    return await _write(request, emu, grant, patch=True)


@operation("events.delete", write=True)
async def events_delete(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject, "writer")
    emu.world.delete_event(calendar, request.match_info["eventId"], _send_updates(request))
    return web.Response(status=204)


@operation("events.instances")
async def events_instances(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject)
    query = ListQuery.parse(request.query)
    role = emu.world.role(calendar, grant.subject)
    answer = list_instances(emu.world, emu.ledger, calendar, request.match_info["eventId"], query, role)
    return web.json_response(answer)


@operation("events.move", write=True)
async def events_move(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    source = emu.world.calendar_for(request.match_info["calendarId"], grant.subject, "writer")
    destination_id = request.query.get("destination")
    if not destination_id:
        raise GoogleApiError.bad_request("Required parameter: destination", "required")
    destination = emu.world.calendar_for(destination_id, grant.subject, "writer")
    emu.counters.send_updates[_send_updates(request) or "unset"] += 1
    return web.json_response(emu.world.move_event(source, request.match_info["eventId"], destination))


@operation("events.watch")
async def events_watch(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject)
    # Google echoes the calendar id as the watch request named it (e.g. `primary`).
    named = quote(request.match_info["calendarId"], safe="")
    uri = f"{request.url.origin()}{API}/calendars/{named}/events?alt=json"
    channel = emu.hub.open(calendar.id, await _body(request), uri)
    return web.json_response(channel.describe())


@operation("channels.stop")
async def channels_stop(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    emu.hub.stop(await _body(request))
    return web.Response(status=204)


@operation("freebusy.query")
async def freebusy(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    return web.json_response(query_free_busy(emu.world, grant.subject, await _body(request)))


# -- calendars ----------------------------------------------------------------------------------


@operation("calendars.get")
async def calendars_get(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    calendar = emu.world.calendar_for(request.match_info["calendarId"], grant.subject)
    return web.json_response(
        {
            "kind": "calendar#calendar",
            "etag": f'"c{len(calendar.events):015d}"',
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
        }
    )


@operation("calendarList.list")
async def calendar_list(request: web.Request, emu: GoogleEmulator, grant: AccessGrant) -> web.Response:
    items = []
    for calendar in emu.world.calendars.values():
        role = emu.world.role(calendar, grant.subject)
        if ROLE_RANK[role] >= ROLE_RANK["freeBusyReader"]:
            entry: dict[str, Any] = {
                "kind": "calendar#calendarListEntry",
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
                "accessRole": role,
            }
            if calendar.id == grant.subject:
                entry["primary"] = True
            items.append(entry)
    return web.json_response({"kind": "calendar#calendarList", "etag": '"l0"', "items": items})


# -- OAuth --------------------------------------------------------------------------------------


async def token(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    # Only a rule named for the token endpoint itself applies: `google.*` means the Calendar API.
    explicit = "google.oauth.token" in emulator.faults.operations
    fault = await emulator.faults.before("google.oauth.token") if explicit else None
    if fault is not None:
        emulator.counters.call("google.oauth.token", fault.status)
        error = "temporarily_unavailable" if fault.status >= 500 else (fault.reason or "invalid_request")
        headers = {"Retry-After": str(round(fault.retry_after))} if fault.retry_after is not None else {}
        return web.json_response({"error": error}, status=fault.status, headers=headers)
    form = {k: str(v) for k, v in (await request.post()).items()}
    try:
        answer = emulator.issuer.grant(form)
    except TokenError as exc:
        emulator.counters.call("google.oauth.token", exc.status)
        return web.json_response(exc.body(), status=exc.status)
    emulator.counters.call("google.oauth.token", 200)
    return web.json_response(answer)


@web.middleware
async def _json_not_found(request: web.Request, handler: Endpoint) -> web.StreamResponse:
    """Unknown API routes answer Google's JSON error; control routes keep aiohttp's plain answers."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.path.startswith("/_control"):
            raise
        return unknown_route()


@operation("gmail.settings.vacation.get")
async def gmail_vacation_get(
    request: web.Request, emu: GoogleEmulator, grant: AccessGrant
) -> web.StreamResponse:
    return web.json_response(gmail.read_vacation(emu.world.vacations, request, grant))


@operation("gmail.settings.vacation.update")
async def gmail_vacation_update(
    request: web.Request, emu: GoogleEmulator, grant: AccessGrant
) -> web.StreamResponse:
    return web.json_response(gmail.check_vacation(emu.world.vacations, request, grant, await _body(request)))


def build_google_app(emulator: GoogleEmulator) -> web.Application:
    """The Google routes (API, token endpoint, `/_control/google/...`), to mount at the root."""
    app = web.Application(middlewares=[_json_not_found])
    app[EMULATOR] = emulator
    events = f"{API}/calendars/{{calendarId}}/events"
    app.router.add_post("/token", token)
    app.router.add_post("/batch/calendar/v3", batch.batch)
    app.router.add_get(events, events_list)
    app.router.add_post(events, events_insert)
    app.router.add_post(f"{events}/watch", events_watch)
    app.router.add_get(f"{events}/{{eventId}}", events_get)
    app.router.add_put(f"{events}/{{eventId}}", events_update)
    app.router.add_patch(f"{events}/{{eventId}}", events_patch)
    app.router.add_delete(f"{events}/{{eventId}}", events_delete)
    app.router.add_get(f"{events}/{{eventId}}/instances", events_instances)
    app.router.add_post(f"{events}/{{eventId}}/move", events_move)
    app.router.add_get(f"{API}/calendars/{{calendarId}}", calendars_get)
    app.router.add_get(f"{API}/users/me/calendarList", calendar_list)
    app.router.add_post(f"{API}/channels/stop", channels_stop)
    app.router.add_post(f"{API}/freeBusy", freebusy)
    vacation = "/gmail/v1/users/{userId}/settings/vacation"
    app.router.add_get(vacation, gmail_vacation_get)
    app.router.add_put(vacation, gmail_vacation_update)
    control.add_routes(app)
    app.on_cleanup.append(_close_hub)
    return app


async def _close_hub(app: web.Application) -> None:
    await app[EMULATOR].hub.close()
