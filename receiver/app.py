"""The receiver's Starlette application: authenticated notifications in, confirmed events out.

Routes:
  POST /notifications/google            Google Calendar push (headers only)
  POST /notifications/graph             Graph change notifications (+ validation handshake)
  POST /notifications/graph/lifecycle   Graph lifecycle notifications (+ validation handshake)
  GET  /healthz  /readyz  /metrics      probes and Prometheus
  POST /v1/freebusy  GET /openapi.json  the free/busy API, when keys and a lookup are given

A notification is answered 2xx only after the broker confirmed every event it produced; when
the bus cannot confirm within `Settings.ack_budget` the answer is 503 with Retry-After, so the
provider delivers it again. The receiver starts whether or not the broker is there: if it is
away, the bus keeps connecting in the background (as after every loss), and until it has,
notifications are answered 503 with Retry-After and /readyz is 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from calbridge.bus.base import Bus
from calbridge.clock import Clock, system_clock
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent, Provider
from calbridge.freebusy.app import freebusy_routes
from calbridge.freebusy.configure import keys_from, limits_from
from calbridge.freebusy.openapi import FREEBUSY_PATH, OPENAPI_PATH
from calbridge.freebusy.orchestrate import Lookup
from calbridge.metrics import CONTENT_TYPE_LATEST, render
from calbridge.settings import Settings
from calbridge.tokens import ExpiredToken, TokenError
from receiver.body import read_body
from receiver.google import interpret_google, read_google_headers
from receiver.graph import interpret_graph, parse_graph_body, refusal_for
from receiver.metrics import AUTH_FAILURES, notifications
from receiver.middleware import RequestContextMiddleware
from receiver.publish import publish_confirmed
from receiver.refusals import Forbidden, Refused, UnsupportedMediaType

__all__ = ["RETRY_AFTER_SECONDS", "ROUTES", "create_app"]

GOOGLE_ROUTE = "/notifications/google"
GRAPH_ROUTE = "/notifications/graph"
LIFECYCLE_ROUTE = "/notifications/graph/lifecycle"
ROUTES = (GOOGLE_ROUTE, GRAPH_ROUTE, LIFECYCLE_ROUTE, "/healthz", "/readyz", "/metrics")
RETRY_AFTER_SECONDS = 5


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up per call so that logging configured later (or captured in tests) applies.
    return structlog.get_logger("calbridge.receiver")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Endpoints:
    bus: Bus
    keys: Mapping[str, bytes]
    clock: Clock
    ack_budget: float
    max_body_bytes: int

    # --- Google

    async def google(self, request: Request) -> Response:
        started = asyncio.get_running_loop().time()
        try:
            notification = read_google_headers(request.headers)
            await read_body(request, self.max_body_bytes)  # Google sends none; bound it anyway
        except Refused as refusal:
            notifications(Provider.GOOGLE, refusal.outcome).inc()
            return _refuse(refusal, Provider.GOOGLE)
        try:
            event = interpret_google(notification, self.keys, trace_id=_trace_id(request), clock=self.clock)
        except TokenError as exc:
            return _refuse_token(Provider.GOOGLE, exc)
        if event is None:
            notifications(Provider.GOOGLE, "sync").inc()
            _log().debug("google_sync", channel_id=notification.channel_id)
            return Response(status_code=200)
        return await self._publish_then(
            [event], Provider.GOOGLE, started, Response(status_code=200), accepted=1
        )

    # --- Graph (both URLs accept both kinds of item)

    async def graph(self, request: Request) -> Response:
        started = asyncio.get_running_loop().time()
        handshake = _answer_handshake(request)
        if handshake is not None:
            return handshake
        try:
            _require_json(request)
            body = await read_body(request, self.max_body_bytes)
            items = parse_graph_body(body)
        except Refused as refusal:
            notifications(Provider.GRAPH, refusal.outcome).inc()
            return _refuse(refusal, Provider.GRAPH)
        batch = interpret_graph(items, self.keys, trace_id=_trace_id(request), clock=self.clock)
        for reason, count in batch.auth_failures.items():
            AUTH_FAILURES.labels(Provider.GRAPH, reason).inc(count)
        for outcome in ("forged", "expired", "malformed", "ignored"):
            if batch.outcomes[outcome]:
                notifications(Provider.GRAPH, outcome).inc(batch.outcomes[outcome])
        if batch.outcomes["forged"] or batch.outcomes["expired"] or batch.outcomes["malformed"]:
            _log().info(
                "graph_items_dropped",
                forged=batch.outcomes["forged"],
                expired=batch.outcomes["expired"],
                malformed=batch.outcomes["malformed"],
                kept=batch.authenticated,
            )
        nothing_authentic = refusal_for(batch)
        if nothing_authentic is not None:
            return _refuse(nothing_authentic, Provider.GRAPH)
        return await self._publish_then(
            batch.messages, Provider.GRAPH, started, Response(status_code=202), accepted=len(batch.messages)
        )

    async def _publish_then(
        self,
        messages: Sequence[ChangeEvent | LifecycleEvent],
        provider: Provider,
        started: float,
        success: Response,
        *,
        accepted: int,
    ) -> Response:
        try:
            await publish_confirmed(self.bus, messages, started + self.ack_budget)
        except BusUnavailable:
            notifications(provider, "unavailable").inc(accepted)
            _log().warning("notification_not_confirmed", provider=str(provider), count=accepted)
            return PlainTextResponse(
                "the event bus could not confirm; retry later",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if accepted:
            notifications(provider, "accepted").inc(accepted)
        return success

    # --- probes

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, request: Request) -> Response:
        try:
            async with asyncio.timeout(self.ack_budget):
                ready = await self.bus.ready()
        except Exception as exc:  # a probe answers, whatever the bus does
            _log().warning("readiness_check_failed", error_type=type(exc).__name__)
            ready = False
        if ready:
            return PlainTextResponse("ready")
        return PlainTextResponse("the event bus is not ready", status_code=503)

    async def metrics(self, request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings, bus: Bus, *, clock: Clock = system_clock, freebusy: Lookup | None = None
) -> Starlette:
    """Build the receiver; its lifespan starts the bus at start (connected if the broker is
    there, else connecting in the background) and closes it at shutdown.

    Raises ConfigurationError when no signing keys are configured: without them no notification
    could ever be authenticated. With `freebusy` given and CALBRIDGE_FREEBUSY_KEYS set, the
    free/busy API is served too.
    """
    endpoints = _Endpoints(
        bus=bus,
        keys=settings.signing_key_map(),
        clock=clock,
        ack_budget=settings.ack_budget,
        max_body_bytes=settings.max_body_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        _log().info("receiver_started")
        try:
            yield
        finally:
            await bus.close()
            _log().info("receiver_stopped")

    routes: list[BaseRoute] = [
        Route(GOOGLE_ROUTE, endpoints.google, methods=["POST"]),
        Route(GRAPH_ROUTE, endpoints.graph, methods=["POST"]),
        Route(LIFECYCLE_ROUTE, endpoints.graph, methods=["POST"]),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        Route("/readyz", endpoints.readyz, methods=["GET"]),
        Route("/metrics", endpoints.metrics, methods=["GET"]),
    ]
    # The notification routes, served by the middleware without Starlette's router (hot path);
    # they stay in `routes` too, so that other methods still get 405.
    direct = {GOOGLE_ROUTE: endpoints.google, GRAPH_ROUTE: endpoints.graph, LIFECYCLE_ROUTE: endpoints.graph}
    labelled: tuple[str, ...] = ROUTES
    freebusy_keys = keys_from(settings)
    if freebusy is not None and freebusy_keys:
        routes += freebusy_routes(freebusy, keys=freebusy_keys, limits=limits_from(settings))
        labelled = (*ROUTES, FREEBUSY_PATH, OPENAPI_PATH)
    return Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware, routes=labelled, direct=direct)],
        lifespan=lifespan,
    )


def _trace_id(request: Request) -> str:
    return str(request.scope["state"]["trace_id"])


def _answer_handshake(request: Request) -> Response | None:
    """Graph's endpoint validation: echo the URL-decoded token as plain text, at once."""
    # Notifications come without a query string: skip parsing one (QueryParams) for them.
    if not request.scope.get("query_string") or "validationToken" not in request.query_params:
        return None
    token = request.query_params["validationToken"]
    notifications(Provider.GRAPH, "validation").inc()
    # text/plain and nosniff: the token is opaque input and must never be rendered as HTML.
    return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("notifications are application/json")


def _refuse_token(provider: Provider, exc: TokenError) -> Response:
    outcome = "expired" if isinstance(exc, ExpiredToken) else "forged"
    notifications(provider, outcome).inc()
    AUTH_FAILURES.labels(provider, exc.reason).inc()
    return _refuse(Forbidden("notification could not be authenticated"), provider, reason=exc.reason)


def _refuse(refusal: Refused, provider: Provider, *, reason: str | None = None) -> Response:
    _log().info(
        "notification_refused",
        provider=str(provider),
        status=refusal.status,
        reason=reason or type(refusal).__name__,
    )
    return PlainTextResponse(refusal.detail, status_code=refusal.status)
