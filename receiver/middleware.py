"""Per-request plumbing as pure ASGI middleware: trace id, latency metrics, last-resort 500.

Pure ASGI (not BaseHTTPMiddleware) so the endpoint runs in the same task and sees the trace id
bound in structlog's context variables. POSTs to the paths in `direct` (the notification routes,
the hot path) go straight to their endpoint instead of through Starlette's router, exception
middleware and the `send` wrappers each of them adds: the endpoints raise no HTTPException, and
anything else they raise ends here as before. Other methods on those paths still reach the
router (405).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receiver.metrics import request_seconds, responses
from receiver.trace import choose_trace_id

__all__ = ["TRACE_HEADER", "RequestContextMiddleware"]

TRACE_HEADER = "X-Request-ID"
_UNMATCHED = "unmatched"


Endpoint = Callable[[Request], Awaitable[Response]]


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, routes: Collection[str], direct: Mapping[str, Endpoint] | None = None
    ) -> None:
        self.app = app
        self.routes = frozenset(routes)
        self.direct = dict(direct or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = choose_trace_id(*_trace_headers(scope["headers"]))
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
                request_seconds(route).observe(time.perf_counter() - started)
                responses(route, message["status"]).inc()
            await send(message)

        # Tokens rather than bound_contextvars(), which copies the whole context per request to
        # find what to restore; resetting the tokens restores exactly what was bound before.
        tokens = structlog.contextvars.bind_contextvars(trace_id=trace_id, route=route)
        try:
            try:
                endpoint = self.direct.get(path) if scope.get("method") == "POST" else None
                if endpoint is not None and not scope.get("root_path"):
                    response = await endpoint(Request(scope, receive))
                    await response(scope, receive, send_with_context)
                else:
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
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def _trace_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """The first `traceparent` and `x-request-id` values, in one pass over the raw headers.

    (Starlette's Headers would scan the list once per name.) ASGI servers give names lowercased.
    """
    traceparent: str | None = None
    request_id: str | None = None
    for name, value in raw:
        if name == b"traceparent" and traceparent is None:
            traceparent = value.decode("latin-1")
        elif name == b"x-request-id" and request_id is None:
            request_id = value.decode("latin-1")
    return traceparent, request_id
