"""Microsoft Graph change and lifecycle notifications: a JSON batch in, events out.

Each item of `{"value": [...]}` is authenticated on its own by its `clientState`; items that
fail are counted and dropped, never published. Items carrying `lifecycleEvent` become
LifecycleEvents and items carrying `changeType` become ChangeEvents, whichever URL they were
posted to (Graph allows the lifecycle URL to equal the notification URL). `parse_graph_body`,
`interpret_graph` and `refusal_for` are pure (keys and clock are supplied by the caller);
`graph_endpoint` is the routes' handler, with Graph's validation handshake, and `PARSER` what
the app serves it from (the routes are the Graph profile's).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from calbridge.clock import Clock
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider
from calbridge.providers.graph.profile import PROFILE
from calbridge.tokens import ExpiredToken, TokenError, verify_token
from receiver.body import read_body
from receiver.intake import Intake, Parser, refuse, require_json, trace_id
from receiver.metrics import AUTH_FAILURES, notifications
from receiver.middleware import Endpoint
from receiver.refusals import BadRequest, Forbidden, Refused

__all__ = ["PARSER", "GraphBatch", "graph_endpoint", "interpret_graph", "parse_graph_body", "refusal_for"]

_CHANGE_KINDS = {
    "created": ChangeKind.CREATED,
    "updated": ChangeKind.UPDATED,
    "deleted": ChangeKind.DELETED,
}
_LIFECYCLE_KINDS = {kind.value: kind for kind in LifecycleKind}
_MAX_RESOURCE = 1024
_MAX_VERSION = 256
_MAX_SUBSCRIPTION = 256


@dataclass
class GraphBatch:
    """What one POST turned into: messages to publish and the outcome of every item."""

    messages: list[ChangeEvent | LifecycleEvent] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # accepted, ignored, forged, expired, malformed
    auth_failures: Counter[str] = field(default_factory=Counter)  # token error reason -> count

    @property
    def authenticated(self) -> int:
        return self.outcomes["accepted"] + self.outcomes["ignored"]


def parse_graph_body(body: bytes) -> list[object]:
    """Return the items of a notification batch; raise BadRequest if it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise BadRequest('body is not a {"value": [...]} notification batch')
    items: list[object] = data["value"]
    if not items:
        raise BadRequest("the batch holds no notifications")
    return items


def interpret_graph(
    items: list[object],
    keys: Mapping[str, bytes],
    *,
    trace_id: str,
    clock: Clock,
) -> GraphBatch:
    batch = GraphBatch()
    for item in items:
        _interpret_item(item, keys, trace_id, clock, batch)
    return batch


def refusal_for(batch: GraphBatch) -> Refused | None:
    """The refusal for a batch in which nothing authenticated, else None (answer 202).

    A batch with at least one authentic item is accepted: the forged items in it are dropped,
    and a retry would only deliver them again. Nothing authentic: 403 if some item failed
    authentication (a forgery, or a subscription whose token lapsed), else 400.
    """
    if batch.authenticated:
        return None
    if batch.outcomes["forged"] or batch.outcomes["expired"]:
        return Forbidden("no notification in the batch could be authenticated")
    return BadRequest("no notification in the batch is well-formed")


def _interpret_item(
    item: object, keys: Mapping[str, bytes], trace_id: str, clock: Clock, batch: GraphBatch
) -> None:
    if not isinstance(item, dict):
        batch.outcomes["malformed"] += 1
        return
    client_state = item.get("clientState")
    if not isinstance(client_state, str) or not client_state:
        batch.outcomes["forged"] += 1
        batch.auth_failures["missing"] += 1
        return
    try:
        verified = verify_token(client_state, Provider.GRAPH, keys, clock=clock)
    except TokenError as exc:
        batch.outcomes["expired" if isinstance(exc, ExpiredToken) else "forged"] += 1
        batch.auth_failures[exc.reason] += 1
        return
    received_at = clock()
    lifecycle = item.get("lifecycleEvent")
    if lifecycle is not None:
        subscription = item.get("subscriptionId")
        if not isinstance(lifecycle, str) or not _is_short_text(subscription, _MAX_SUBSCRIPTION):
            batch.outcomes["malformed"] += 1
            return
        kind = _LIFECYCLE_KINDS.get(lifecycle)
        if kind is None:  # authentic, but a lifecycle event this build does not know
            batch.outcomes["ignored"] += 1
            return
        batch.messages.append(
            LifecycleEvent(
                provider=Provider.GRAPH,
                calendar=verified.calendar_ref,
                kind=kind,
                subscription=subscription,
                trace_id=trace_id,
                received_at=received_at,
            )
        )
        batch.outcomes["accepted"] += 1
        return
    change_type = item.get("changeType")
    if not isinstance(change_type, str):
        batch.outcomes["malformed"] += 1
        return
    resource_data = item.get("resourceData")
    resource = version = None
    if isinstance(resource_data, dict):
        resource = _short_text_or_none(resource_data.get("id"), _MAX_RESOURCE)
        version = _short_text_or_none(resource_data.get("@odata.etag"), _MAX_VERSION)
    batch.messages.append(
        ChangeEvent(
            provider=Provider.GRAPH,
            calendar=verified.calendar_ref,
            # A type this build does not know is still a sign that the calendar changed.
            kind=_CHANGE_KINDS.get(change_type, ChangeKind.CHANGED),
            resource=resource,
            version=version,
            trace_id=trace_id,
            received_at=received_at,
        )
    )
    batch.outcomes["accepted"] += 1


def _is_short_text(value: object, limit: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= limit


def _short_text_or_none(value: object, limit: int) -> str | None:
    # A hint that does not fit is dropped rather than refused: the processor re-reads anyway.
    return value if _is_short_text(value, limit) else None


def graph_endpoint(intake: Intake) -> Endpoint:
    """The handler of both Graph routes (each accepts both kinds of item): 202 once every
    authentic item is confirmed, the validation handshake answered at once."""

    async def graph(request: Request) -> Response:
        started = asyncio.get_running_loop().time()
        handshake = _answer_handshake(request)
        if handshake is not None:
            return handshake
        try:
            require_json(request)
            body = await read_body(request, intake.max_body_bytes)
            items = parse_graph_body(body)
        except Refused as refusal:
            notifications(Provider.GRAPH, refusal.outcome).inc()
            return refuse(refusal, Provider.GRAPH)
        batch = interpret_graph(items, intake.keys, trace_id=trace_id(request), clock=intake.clock)
        for reason, count in batch.auth_failures.items():
            AUTH_FAILURES.labels(Provider.GRAPH, reason).inc(count)
        for outcome in ("forged", "expired", "malformed", "ignored"):
            if batch.outcomes[outcome]:
                notifications(Provider.GRAPH, outcome).inc(batch.outcomes[outcome])
        if batch.outcomes["forged"] or batch.outcomes["expired"] or batch.outcomes["malformed"]:
            structlog.get_logger("calbridge.receiver").info(
                "graph_items_dropped",
                forged=batch.outcomes["forged"],
                expired=batch.outcomes["expired"],
                malformed=batch.outcomes["malformed"],
                kept=batch.authenticated,
            )
        nothing_authentic = refusal_for(batch)
        if nothing_authentic is not None:
            return refuse(nothing_authentic, Provider.GRAPH)
        return await intake.publish_then(
            batch.messages, Provider.GRAPH, started, Response(status_code=202), accepted=len(batch.messages)
        )

    return graph


def _answer_handshake(request: Request) -> Response | None:
    """Graph's endpoint validation: echo the URL-decoded token as plain text, at once."""
    # Notifications come without a query string: skip parsing one (QueryParams) for them.
    if not request.scope.get("query_string") or "validationToken" not in request.query_params:
        return None
    token = request.query_params["validationToken"]
    if not token:  # Graph always sends one; an empty token validates nothing
        refusal = BadRequest("validationToken is empty")
        notifications(Provider.GRAPH, refusal.outcome).inc()
        return refuse(refusal, Provider.GRAPH)
    notifications(Provider.GRAPH, "validation").inc()
    # text/plain and nosniff: the token is opaque input and must never be rendered as HTML.
    return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})


PARSER = Parser(PROFILE, graph_endpoint)
