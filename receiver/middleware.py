"""Per-request plumbing as pure ASGI middleware: trace id, latency metrics, last-resort 500.

Pure ASGI (not BaseHTTPMiddleware) so the endpoint runs in the same task and sees the trace id
bound in structlog's context variables.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Collection

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receiver.metrics import REQUEST_SECONDS, RESPONSES
from receiver.trace import choose_trace_id

__all__ = ["TRACE_HEADER", "RequestContextMiddleware"]

TRACE_HEADER = "X-Request-ID"
_UNMATCHED = "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, routes: Collection[str]) -> None:
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        trace_id = choose_trace_id(headers.get("traceparent"), headers.get("x-request-id"))
        scope.setdefault("state", {})["trace_id"] = trace_id
        path = scope.get("path", "")
        route = path if path in self.routes else _UNMATCHED  # bounded label set under any input
        started = time.perf_counter()
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                MutableHeaders(scope=message)[TRACE_HEADER] = trace_id
                REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
                RESPONSES.labels(route, str(message["status"])).inc()
            await send(message)

        with structlog.contextvars.bound_contextvars(trace_id=trace_id, route=route):
            try:
                await self.app(scope, receive, send_with_context)
            except Exception as exc:
                # Log where it happened, never the message: it may quote the request.
                frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
                structlog.get_logger("calbridge.receiver").error(
                    "unhandled_error",
                    error_type=type(exc).__name__,
                    at=f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else None,
                )
                if response_started:
                    return
                await send_with_context(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send_with_context({"type": "http.response.body", "body": b"internal error"})
