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
from collections.abc import AsyncIterator
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
from calbridge.freebusy.app import freebusy_routes
from calbridge.freebusy.configure import keys_from, limits_from
from calbridge.freebusy.openapi import FREEBUSY_PATH, MEETINGS_PATH, OPENAPI_PATH
from calbridge.freebusy.orchestrate import Lookup
from calbridge.meetings.lookup import MeetingLookup
from calbridge.metrics import CONTENT_TYPE_LATEST, render
from calbridge.settings import Settings
from receiver import google, graph
from receiver.intake import RETRY_AFTER_SECONDS, Intake, Parser
from receiver.middleware import Endpoint, RequestContextMiddleware

__all__ = ["PARSERS", "RETRY_AFTER_SECONDS", "ROUTES", "create_app"]

# One line per push provider: its parser module's routes and endpoint. A provider whose profile
# says it streams (EWS) has none: its listener is a process of its own (`ews_listener/`).
PARSERS: tuple[Parser, ...] = (
    google.PARSER,
    graph.PARSER,
)
ROUTES = (*(route for parser in PARSERS for route in parser.routes), "/healthz", "/readyz", "/metrics")


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up per call so that logging configured later (or captured in tests) applies.
    return structlog.get_logger("calbridge.receiver")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Probes:
    bus: Bus
    ack_budget: float

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
    settings: Settings,
    bus: Bus,
    *,
    clock: Clock = system_clock,
    freebusy: Lookup | None = None,
    meetings: MeetingLookup | None = None,
) -> Starlette:
    """Build the receiver; its lifespan starts the bus at start (connected if the broker is
    there, else connecting in the background) and closes it at shutdown.

    Raises ConfigurationError when no signing keys are configured: without them no notification
    could ever be authenticated. With `freebusy` given and CALBRIDGE_FREEBUSY_KEYS set, the
    free/busy API is served too (and the meeting list with `meetings`).
    """
    intake = Intake(
        bus=bus,
        keys=settings.signing_key_map(),
        clock=clock,
        ack_budget=settings.ack_budget,
        max_body_bytes=settings.max_body_bytes,
    )
    probes = _Probes(bus=bus, ack_budget=settings.ack_budget)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        _log().info("receiver_started")
        try:
            yield
        finally:
            await bus.close()
            _log().info("receiver_stopped")

    # The notification routes, served by the middleware without Starlette's router (hot path);
    # they are in `routes` too, so that other methods still get 405.
    direct: dict[str, Endpoint] = {}
    for parser in PARSERS:
        endpoint = parser.endpoint(intake)
        direct.update(dict.fromkeys(parser.routes, endpoint))
    routes: list[BaseRoute] = [Route(path, endpoint, methods=["POST"]) for path, endpoint in direct.items()]
    routes += [
        Route("/healthz", probes.healthz, methods=["GET"]),
        Route("/readyz", probes.readyz, methods=["GET"]),
        Route("/metrics", probes.metrics, methods=["GET"]),
    ]
    labelled: tuple[str, ...] = ROUTES
    freebusy_keys = keys_from(settings)
    if freebusy is not None and freebusy_keys:
        routes += freebusy_routes(
            freebusy, keys=freebusy_keys, limits=limits_from(settings), meetings=meetings
        )
        labelled = (*ROUTES, FREEBUSY_PATH, OPENAPI_PATH, MEETINGS_PATH)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware, routes=labelled, direct=direct)],
        lifespan=lifespan,
    )
    # A path with a trailing slash is another path: 404, as documented, not a 307 to the known one
    # (a provider would not follow it with its POST anyway). Set once; nothing per request.
    app.router.redirect_slashes = False
    return app
