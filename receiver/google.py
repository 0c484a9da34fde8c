"""Google Calendar push notifications: headers in, a change event (or nothing) out.

A notification has no body; everything is in `X-Goog-*` headers. It says only that the watched
calendar changed, never which event, so the event carries the calendar ref and kind CHANGED and
the processor pulls the truth with its sync token. `read_google_headers` and `interpret_google`
are pure (the caller supplies keys and clock); `google_endpoint` is the route's handler, and
`PARSER` what the app serves it from (the route is the Google profile's).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog
from starlette.requests import Request
from starlette.responses import Response

from calbridge.clock import Clock
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.providers.google.profile import PROFILE
from calbridge.tokens import TokenError, verify_token
from receiver.body import read_body
from receiver.intake import Intake, Parser, refuse, refuse_token, trace_id
from receiver.metrics import notifications
from receiver.middleware import Endpoint
from receiver.refusals import BadRequest, Refused

__all__ = ["PARSER", "GoogleNotification", "google_endpoint", "interpret_google", "read_google_headers"]

_MESSAGE_NUMBER = re.compile(r"[0-9]{1,20}")
# `exists` is what Google sends for any create/update/delete; `not_exists` is documented as a
# possible value. Both mean "pull this calendar": the notification never names an event, so
# DELETED (which implies a known event) would mislead the processor.
_CHANGE_STATES = frozenset({"exists", "not_exists"})
_SYNC_STATE = "sync"


@dataclass(frozen=True, slots=True)
class GoogleNotification:
    channel_id: str
    token: str
    resource_state: str
    resource_id: str | None
    message_number: str | None
    channel_expiration: str | None


def read_google_headers(headers: Mapping[str, str]) -> GoogleNotification:
    """Take the X-Goog-* headers apart; raise BadRequest if one we rely on is missing or wrong."""
    missing = [
        name
        for name in ("x-goog-channel-id", "x-goog-channel-token", "x-goog-resource-state")
        if not headers.get(name)
    ]
    if missing:
        raise BadRequest("missing header(s): " + ", ".join(missing))
    state = headers["x-goog-resource-state"]
    if state != _SYNC_STATE and state not in _CHANGE_STATES:
        raise BadRequest("unknown X-Goog-Resource-State")
    number = headers.get("x-goog-message-number")
    if number is not None and not _MESSAGE_NUMBER.fullmatch(number):
        raise BadRequest("X-Goog-Message-Number is not a number")
    resource_id = headers.get("x-goog-resource-id")
    if resource_id is not None and len(resource_id) > 1024:
        raise BadRequest("X-Goog-Resource-ID is too long")
    return GoogleNotification(
        channel_id=headers["x-goog-channel-id"],
        token=headers["x-goog-channel-token"],
        resource_state=state,
        resource_id=resource_id,
        message_number=number,
        channel_expiration=headers.get("x-goog-channel-expiration"),
    )


def interpret_google(
    notification: GoogleNotification,
    keys: Mapping[str, bytes],
    *,
    trace_id: str,
    clock: Clock,
) -> ChangeEvent | None:
    """Authenticate the notification; return the event to publish, or None for `sync`.

    Raises a TokenError subclass when the token is refused (the channel id is part of the MAC,
    so a token replayed on another channel is refused too).
    """
    verified = verify_token(
        notification.token, Provider.GOOGLE, keys, channel_id=notification.channel_id, clock=clock
    )
    if notification.resource_state == _SYNC_STATE:
        return None
    received_at: datetime = clock()
    return ChangeEvent(
        provider=Provider.GOOGLE,
        calendar=verified.calendar_ref,
        kind=ChangeKind.CHANGED,
        version=notification.message_number,
        trace_id=trace_id,
        received_at=received_at,
    )


def google_endpoint(intake: Intake) -> Endpoint:
    """The handler of Google's route: 200 once the change is confirmed (or for `sync`)."""

    async def google(request: Request) -> Response:
        started = asyncio.get_running_loop().time()
        try:
            notification = read_google_headers(request.headers)
            await read_body(request, intake.max_body_bytes)  # Google sends none; bound it anyway
        except Refused as refusal:
            notifications(Provider.GOOGLE, refusal.outcome).inc()
            return refuse(refusal, Provider.GOOGLE)
        try:
            event = interpret_google(
                notification, intake.keys, trace_id=trace_id(request), clock=intake.clock
            )
        except TokenError as exc:
            return refuse_token(Provider.GOOGLE, exc)
        if event is None:
            notifications(Provider.GOOGLE, "sync").inc()
            structlog.get_logger("calbridge.receiver").debug(
                "google_sync", channel_id=notification.channel_id
            )
            return Response(status_code=200)
        return await intake.publish_then(
            [event], Provider.GOOGLE, started, Response(status_code=200), accepted=1
        )

    return google


PARSER = Parser(PROFILE, google_endpoint)
