"""The renewer's HTTP side: liveness, readiness and Prometheus metrics.

`/readyz` is 200 while the last pass of the loop succeeded recently (within three intervals),
the bus could confirm a publish now and the lifecycle consumer receives deliveries; otherwise
503, so an orchestrator restarts or stops routing to a renewer that cannot do its job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from calbridge.bus.base import Bus
from calbridge.metrics import CONTENT_TYPE_LATEST, render

__all__ = ["Health", "create_probe_app"]


@dataclass
class Health:
    """The loop's record of its passes, read by /readyz."""

    interval: float
    monotonic: Callable[[], float] = time.monotonic
    last_ok: float | None = field(default=None)

    def record(self, ok: bool) -> None:
        if ok:
            self.last_ok = self.monotonic()

    def fresh(self) -> bool:
        return self.last_ok is not None and self.monotonic() - self.last_ok <= 3 * self.interval + 5


def create_probe_app(health: Health, bus: Bus, consuming: Callable[[], bool] = lambda: True) -> Starlette:
    """`consuming` says whether the lifecycle consumer receives deliveries now."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            async with asyncio.timeout(2):
                bus_ready = await bus.ready()
        except Exception:
            bus_ready = False
        if bus_ready and health.fresh() and consuming():
            return PlainTextResponse("ready")
        return PlainTextResponse("not ready", status_code=503)

    async def metrics(_: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
