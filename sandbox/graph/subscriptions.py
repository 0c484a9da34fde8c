"""`/subscriptions`: create (with the validation handshake), get, list, renew, reauthorize, delete.

Create checks what Graph checks: a resource naming the events of a mailbox the app may reach,
an expiry in the future and no further than the maximum lifetime for Outlook events (10080
minutes), a clientState of at most 128 characters, HTTPS endpoints (a plain-http URL answers
400 `InvalidRequest` "NotificationUrl scheme='http' is not supported.") that echo the
validation token. Only `world.plain_http_loopback_webhooks`, a demo's explicit choice, lets a
plain-http URL on a loopback host through.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from sandbox.graph.errors import GraphError
from sandbox.graph.odata import context_url
from sandbox.graph.routing import Call, Reply, Route, route
from sandbox.graph.state import GraphWorld, Subscription
from sandbox.graph.timezones import format_utc

__all__ = ["ROUTES", "validate_endpoint"]

_RESOURCE = re.compile(
    r"^/?(?:users/(?P<user>[^/]+)|me)(?:/calendar|/calendars/(?P<calendar>[^/]+))?/events/?$", re.IGNORECASE
)
CHANGE_TYPES = {"created", "updated", "deleted"}
VALIDATION_PREFIX = "Validation: Testing client application reachability for subscription"


def render_subscription(world: GraphWorld, sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": world.client_id,
        "changeType": ",".join(t for t in ("created", "updated", "deleted") if t in sub.change_types),
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": format_utc(sub.expiration),
        "creatorId": sub.creator_id,
        "includeResourceData": False,
        "latestSupportedTlsVersion": "v1_2",
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }


def _expiry(call: Call, value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphError(400, "InvalidRequest", "expirationDateTime is not a valid date and time.") from exc
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    now = call.ctx.clock.now()
    limit = timedelta(minutes=call.ctx.world.max_subscription_minutes)
    if moment <= now:
        raise GraphError(400, "InvalidRequest", "Subscription expiration can only be in the future.")
    if moment > now + limit:
        raise GraphError(
            400,
            "InvalidRequest",
            f"Subscription expiration can only be {call.ctx.world.max_subscription_minutes} minutes "
            "in the future.",
        )
    return moment


async def validate_endpoint(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    limit_seconds: float,
    tls: ssl.SSLContext | bool | None = None,
) -> bool:
    """Graph's handshake: POST ?validationToken=..., expect 200 text/plain echoing it decoded."""
    target = f"{url}{'&' if '?' in url else '?'}validationToken={quote(token, safe='')}"
    try:
        async with session.post(
            target,
            data=b"",
            ssl=tls if tls is not None else True,
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=limit_seconds),
        ) as response:
            text = await response.text()
            content_type = response.headers.get("Content-Type", "")
            return response.status == 200 and content_type.startswith("text/plain") and text == token
    except (TimeoutError, aiohttp.ClientError, asyncio.CancelledError):
        return False


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_scheme(world: GraphWorld, url: str, field: str) -> None:
    """Graph takes HTTPS endpoints only (the scheme is checked before any handshake)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return
    if scheme == "http" and world.plain_http_loopback_webhooks and _loopback(parts.hostname or ""):
        return
    if scheme in ("http", ""):
        name = field[0].upper() + field[1:]
        raise GraphError(400, "InvalidRequest", f"{name} scheme='{scheme or 'none'}' is not supported.")
    raise GraphError(400, "InvalidRequest", f"Invalid notification url='{url}'.")


def _entity(call: Call, sub: Subscription, status: int = 201) -> Reply:
    """One subscription as Graph answers with it, `@odata.context` first."""
    return Reply(
        status, {"@odata.context": context_url(call, entity=True), **render_subscription(call.ctx.world, sub)}
    )


def _live(call: Call, sub_id: str) -> Subscription:
    sub = call.ctx.world.subscriptions.get(sub_id)
    if sub is None or sub.expiration <= call.ctx.clock.now():
        raise GraphError(404, "ResourceNotFound", f"The object was not found: subscription '{sub_id}'.")
    return sub


async def create(call: Call) -> Reply:
    ctx, body = call.ctx, call.body if isinstance(call.body, dict) else {}
    world = ctx.world
    for required in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not body.get(required):
            raise GraphError(400, "InvalidRequest", f"'{required}' is required.")
    change_types = {t.strip() for t in str(body["changeType"]).split(",")}
    if not change_types <= CHANGE_TYPES:
        raise GraphError(400, "InvalidRequest", f"Unsupported changeType '{body['changeType']}'.")
    client_state = body.get("clientState")
    if client_state is not None and len(str(client_state)) > 128:
        raise GraphError(400, "InvalidRequest", "clientState must be at most 128 characters.")
    match = _RESOURCE.match(str(body["resource"]))
    if match is None or match.group("user") is None:
        raise GraphError(
            400, "ExtensionError", f"Operation: Create; Exception: [Status Code: BadRequest; Reason: The "
            f"resource '{body['resource']}' is not supported for application subscriptions.]",
        )  # fmt: skip
    mailbox = world.mailbox(match.group("user"))
    if mailbox is None:
        raise GraphError(404, "ExtensionError", "Operation: Create; Exception: [Status Code: NotFound]")
    if not world.may_access(mailbox):
        raise GraphError(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; "
                         "Reason: Access to OData is disabled.]")  # fmt: skip
    check_scheme(world, str(body["notificationUrl"]), "notificationUrl")
    if body.get("lifecycleNotificationUrl"):
        check_scheme(world, str(body["lifecycleNotificationUrl"]), "lifecycleNotificationUrl")
    calendar_id = match.group("calendar")
    if calendar_id is not None and calendar_id not in mailbox.calendars:
        raise GraphError(404, "ExtensionError", "Operation: Create; Exception: [Status Code: NotFound]")
    if match.group(0).lower().rstrip("/").endswith("/calendar/events"):
        calendar_id = mailbox.default_calendar.id
    expiration = _expiry(call, body["expirationDateTime"])
    active = [
        s
        for s in world.subscriptions.values()
        if s.mailbox_id == mailbox.id and s.expiration > ctx.clock.now()
    ]
    if len(active) >= world.max_subscriptions_per_mailbox:
        raise GraphError(
            403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The "
            f"maximum of {world.max_subscriptions_per_mailbox} subscriptions for this mailbox is reached.]",
        )  # fmt: skip
    session = ctx.notifier.client()
    urls = [str(body["notificationUrl"])]
    if body.get("lifecycleNotificationUrl"):
        urls.append(str(body["lifecycleNotificationUrl"]))
    for url in dict.fromkeys(urls):
        token = f"{VALIDATION_PREFIX} Request-Id: {world.new_guid()}"
        if not await validate_endpoint(session, url, token, world.validation_timeout, world.notification_ssl):
            raise GraphError(
                400, "ValidationError",
                f"Subscription validation request failed. Notification endpoint must respond with 200 OK "
                f"to validation request. Endpoint: {url}",
            )  # fmt: skip
    sub = Subscription(
        id=world.new_guid(),
        resource=str(body["resource"]),
        mailbox_id=mailbox.id,
        calendar_id=calendar_id,
        change_types=frozenset(change_types),
        notification_url=urls[0],
        lifecycle_url=str(body["lifecycleNotificationUrl"]) if body.get("lifecycleNotificationUrl") else None,
        client_state=None if client_state is None else str(client_state),
        expiration=expiration,
        immutable_ids=call.prefs.immutable_ids,
        creator_id=world.client_id,
    )
    world.subscriptions[sub.id] = sub
    return _entity(call, sub)


async def get_one(call: Call) -> Reply:
    sub = _live(call, call.param("sub"))
    return _entity(call, sub, 200)


async def list_all(call: Call) -> Reply:
    now = call.ctx.clock.now()
    subs = [s for s in call.ctx.world.subscriptions.values() if s.expiration > now]
    rows = [render_subscription(call.ctx.world, s) for s in subs]
    return Reply(200, {"@odata.context": context_url(call), "value": rows})


async def renew(call: Call) -> Reply:
    sub = _live(call, call.param("sub"))
    body = call.body if isinstance(call.body, dict) else {}
    if "expirationDateTime" in body:
        sub.expiration = _expiry(call, body["expirationDateTime"])
    if body.get("notificationUrl"):
        check_scheme(call.ctx.world, str(body["notificationUrl"]), "notificationUrl")
        sub.notification_url = str(body["notificationUrl"])
    return _entity(call, sub, 200)


async def reauthorize(call: Call) -> Reply:
    _live(call, call.param("sub"))
    return Reply(204)


async def delete(call: Call) -> Reply:
    _live(call, call.param("sub"))
    call.ctx.world.subscriptions.pop(call.param("sub"), None)
    return Reply(204)


ONE = r"/subscriptions/(?P<sub>[^/]+)"
ROUTES: list[Route] = [
    route("POST", ONE + r"/reauthorize", "subscriptions.reauthorize", reauthorize),
    route("GET", ONE, "subscriptions.get", get_one),
    route("PATCH", ONE, "subscriptions.update", renew),
    route("DELETE", ONE, "subscriptions.delete", delete),
    route("GET", r"/subscriptions", "subscriptions.list", list_all),
    route("POST", r"/subscriptions", "subscriptions.create", create),
]
