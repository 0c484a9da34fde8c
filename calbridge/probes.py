"""Probes and metrics every service serves: /healthz (process up), /readyz, /metrics.

/readyz is 200 only while what the service depends on answers (the processor: it consumes every
shard it owns and reaches the store): a process that is up but lost its broker connection, or
came back without its consumers, is not ready, so a rolling restart of RabbitMQ that stalls work
shows in the probes.

A service binds its probe port itself (`bind_probe_port`) before it starts anything else, and
hands the socket to uvicorn: a port already taken is a `ConfigurationError` naming the port and
its setting, instead of uvicorn's `SystemExit` inside a task, which left the other tasks
pending ("Task was destroyed but it is pending!") and the port unnamed.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from calbridge.errors import ConfigurationError
from calbridge.metrics import CONTENT_TYPE_LATEST, render
from calbridge.settings import ENV_PREFIX

__all__ = ["bind_probe_port", "build_probe_app"]

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


def bind_probe_port(host: str, port: int, variable: str) -> socket.socket:
    """A listening socket on (host, port) for uvicorn's `serve(sockets=[...])`; a port in use is a
    ConfigurationError naming it and `variable`, the setting that chooses it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"port {port} on {host} is already in use ({exc.strerror}): stop what listens there or "
            f"choose another port ({ENV_PREFIX}{variable} or --port)"
        ) from None
    sock.setblocking(False)
    return sock
