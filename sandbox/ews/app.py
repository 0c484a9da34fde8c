"""The EWS emulator's aiohttp application: authentication, impersonation, faults, dispatch."""

from __future__ import annotations

import base64
import binascii
import secrets

import structlog
from aiohttp import web
from multidict import CIMultiDict

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.ews import autodiscover, control
from sandbox.ews.availability import get_user_availability
from sandbox.ews.ntlm import NtlmGate
from sandbox.ews.oof import get_user_oof_settings, set_user_oof_settings
from sandbox.ews.operations import Context, EwsFault, Handler
from sandbox.ews.operations.folders import get_folder
from sandbox.ews.operations.items import create_item, delete_item, find_item, get_item, update_item
from sandbox.ews.operations.subscriptions import AFFINITY_COOKIE, subscribe, unsubscribe
from sandbox.ews.operations.sync import sync_folder_items
from sandbox.ews.soap import MalformedSoap, envelope, fault, parse_request
from sandbox.ews.state import EwsWorld, Mailbox
from sandbox.ews.streaming import get_streaming_events, track_streams
from sandbox.ews.timezones import get_server_time_zones
from sandbox.faults import ErrorAnswer, Faults

__all__ = ["EWS_PATH", "TOKEN_PATH", "acting_mailbox", "authenticate", "build_ews_app"]

log = structlog.get_logger("sandbox.ews")

EWS_PATH = "/EWS/Exchange.asmx"
TOKEN_PATH = "/ews-login/{tenant}/oauth2/v2.0/token"
HANDLERS: dict[str, Handler] = {
    "GetFolder": get_folder,
    "CreateItem": create_item,
    "GetItem": get_item,
    "FindItem": find_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
    "SyncFolderItems": sync_folder_items,
    "Subscribe": subscribe,
    "Unsubscribe": unsubscribe,
    "GetUserAvailabilityRequest": get_user_availability,
    "GetServerTimeZones": get_server_time_zones,
    "GetUserOofSettingsRequest": get_user_oof_settings,
    "SetUserOofSettingsRequest": set_user_oof_settings,
}
WORLD: web.AppKey[EwsWorld] = web.AppKey("ews_world", EwsWorld)
FAULTS: web.AppKey[Faults] = web.AppKey("ews_faults", Faults)
COUNTERS: web.AppKey[Counters] = web.AppKey("ews_counters", Counters)
NTLM: web.AppKey[NtlmGate] = web.AppKey("ews_ntlm", NtlmGate)


def authenticate(world: EwsWorld, header: str | None) -> str | None:
    """The principal behind an Authorization header (Basic or Bearer), or None. NTLM is bound to
    a connection rather than a header, so `_principal` handles it."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = world.basic_users.get(user.lower())
        return user.lower() if expected is not None and secrets.compare_digest(expected, password) else None
    if scheme.lower() == "bearer":
        return world.bearer_tokens.get(value.strip())
    return None


# What an Exchange server offers: on-premises IIS offers Negotiate and NTLM (Basic when enabled),
# Exchange Online a bearer token. The sandbox is both.
_CHALLENGES = ("Negotiate", "NTLM", 'Basic realm="sandbox"', "Bearer")


def _unauthorized(challenge: str | None = None) -> web.Response:
    headers = CIMultiDict([("WWW-Authenticate", challenge)] if challenge else [])
    if challenge is None:
        headers.extend(("WWW-Authenticate", offer) for offer in _CHALLENGES)
    return web.Response(status=401, headers=headers, text="401 Unauthorized")


async def _principal(request: web.Request, world: EwsWorld) -> str | web.Response:
    """Who is calling: Basic or Bearer per request, NTLM per connection (a 401 carrying the
    challenge while the handshake runs); a 401 response when nobody is."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() in {"ntlm", "negotiate"}:
        await request.read()  # the body comes with each leg; read it so the connection stays usable
        step = request.app[NTLM].step(request.transport, token)
        if step.challenge is not None:
            return _unauthorized(f"{scheme} {step.challenge}")
        return step.principal if step.principal is not None else _unauthorized()
    if not authorization:
        proven = request.app[NTLM].authenticated(request.transport)
        if proven is not None:
            return proven
    return authenticate(world, authorization) or _unauthorized()


def _soap_fault(code: str, message: str, status: int = 500, back_off_ms: int | None = None) -> web.Response:
    return web.Response(
        status=status, body=fault(code, message, back_off_ms), content_type="text/xml", charset="utf-8"
    )


def acting_mailbox(world: EwsWorld, principal: str, impersonated: str | None, bearer: bool) -> Mailbox | None:
    """The mailbox a request acts on: the impersonated one if allowed, else the caller's own."""
    if impersonated is not None:
        mailbox = world.mailboxes.get(impersonated)
        if mailbox is None:
            raise EwsFault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        if not world.may_impersonate(principal, mailbox.address):
            raise EwsFault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        return mailbox
    if bearer and principal not in world.mailboxes:
        # App-only tokens carry no user, so Exchange insists on impersonation.
        raise EwsFault(
            "ErrorInvalidExchangeImpersonationHeader",
            "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
        )
    return world.mailboxes.get(principal)


def _throttled(answer: ErrorAnswer) -> web.Response:
    if answer.status == 503:
        headers = {"Retry-After": str(int(answer.retry_after))} if answer.retry_after else {}
        return web.Response(status=503, headers=headers, text="Service Unavailable")
    back_off = int(answer.retry_after * 1000) if answer.retry_after is not None else None
    return _soap_fault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        back_off_ms=back_off,
    )


async def _ews(request: web.Request) -> web.StreamResponse:
    world, faults, counters = request.app[WORLD], request.app[FAULTS], request.app[COUNTERS]
    authorization = request.headers.get("Authorization", "")
    principal = await _principal(request, world)
    if isinstance(principal, web.Response):
        counters.call("ews.auth", 401)
        return principal
    try:
        soap = parse_request(await request.read())
    except MalformedSoap:
        counters.call("ews.invalid", 500)
        return _soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    operation = soap.name.removesuffix("Request")
    name = f"ews.{operation}"
    answer = await faults.before(name)
    if answer is not None:
        counters.call(name, answer.status)
        log.info("ews.fault_injected", operation=operation, status=answer.status)
        return _throttled(answer)
    try:
        bearer = authorization.lower().startswith("bearer")
        mailbox = acting_mailbox(world, principal, soap.impersonated, bearer)
        affinity = request.headers.get(AFFINITY_COOKIE) or request.cookies.get(AFFINITY_COOKIE)
        ctx = Context(world, counters, principal, mailbox, affinity)
        if soap.name == "GetStreamingEvents":
            counters.call(name, 200)
            return await get_streaming_events(request, ctx, soap.operation, faults)
        handler = HANDLERS.get(soap.name)
        if handler is None:
            raise EwsFault("ErrorInvalidRequest", f"The operation {operation} is not emulated.")
        body = envelope(await handler(ctx, soap.operation))
    except EwsFault as exc:
        counters.call(name, exc.status)
        return _soap_fault(exc.code, exc.message, status=exc.status)
    counters.call(name, 200)
    reply = web.Response(body=body, content_type="text/xml", charset="utf-8")
    for cookie, value in ctx.set_cookies.items():
        reply.set_cookie(cookie, value, httponly=True)
    return reply


async def _token(request: web.Request) -> web.Response:
    """OAuth2 client-credentials grant for app-only EWS access (scope outlook.office365.com/.default)."""
    world = request.app[WORLD]
    form = await request.post()
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    expected = world.oauth_clients.get(client_id)
    if (
        form.get("grant_type") != "client_credentials"
        or expected is None
        or not secrets.compare_digest(expected, secret)
    ):
        return web.json_response({"error": "invalid_client"}, status=401)
    token = secrets.token_urlsafe(24)
    world.add_bearer_token(token, client_id)
    return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3599})


def build_ews_app(world: EwsWorld, faults: Faults, clock: Clock, counters: Counters) -> web.Application:
    """Serve EWS (`POST /EWS/Exchange.asmx`), Autodiscover, a token endpoint and `/_control/ews/`.

    The world adopts `clock`, so timestamps and sync follow the sandbox's shared time.
    """
    world.clock = clock
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[WORLD], app[FAULTS], app[COUNTERS] = world, faults, counters
    app[NTLM] = NtlmGate(world.basic_users)  # the same users as Basic, through pyspnego's acceptor
    app.router.add_post(EWS_PATH, _ews)
    app.router.add_post(EWS_PATH.lower(), _ews)
    app.router.add_post(TOKEN_PATH, _token)
    autodiscover.add_routes(app, world)
    control.add_routes(app, world)
    track_streams(app)
    return app
