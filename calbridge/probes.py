"""Probes and metrics every service serves: /healthz (process up), /readyz, /metrics.

/readyz is 200 only while what the service depends on answers (the processor: it consumes every
shard it owns and reaches the store): a process that is up but lost its broker connection, or
came back without its consumers, is not ready, so a rolling restart of RabbitMQ that stalls work
shows in the probes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from calbridge.metrics import CONTENT_TYPE_LATEST, render

__all__ = ["build_probe_app"]

Check = Callable[[], Awaitable[dict[str, bool]]]


def build_probe_app(check: Check) -> Starlette:
    """`check` answers which dependencies are reachable, e.g. {"bus": True, "store": False}."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        checks = await check()
        return JSONResponse(checks, status_code=200 if all(checks.values()) else 503)

    async def metrics(request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
