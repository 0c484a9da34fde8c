"""One Graph call from start to answer: route, mailbox and access policy, throttling, faults,
the handler, and the call counter."""

from __future__ import annotations

import structlog

from sandbox.graph.errors import GraphError, error_body
from sandbox.graph.routing import Call, Reply

__all__ = ["dispatch"]

log = structlog.get_logger(__name__)

_FAULT_CODES = {
    429: "TooManyRequests",
    500: "generalException",
    502: "BadGateway",
    503: "ServiceNotAvailable",
    504: "GatewayTimeout",
}


def _error(exc: GraphError) -> Reply:
    return Reply(exc.status, error_body(exc.code, exc.message), dict(exc.headers))


async def dispatch(call: Call) -> Reply:
    ctx = call.ctx
    allowed_methods = False
    for route in ctx.routes:
        match = route.pattern.match(call.path)
        if match is None:
            continue
        allowed_methods = True
        if route.method != call.method:
            continue
        call.match = match
        operation = f"graph.{route.operation}"
        reply = await _run(call, route.handler, operation, match.groupdict().get("user"))
        ctx.counters.call(operation, reply.status)
        return reply
    if allowed_methods:
        return _error(GraphError(405, "Request_BadRequest", "The requested method is not allowed."))
    segment = call.path.rstrip("/").rsplit("/", 1)[-1]
    return _error(GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'."))


async def _run(call: Call, handler: object, operation: str, user: str | None) -> Reply:
    ctx = call.ctx
    try:
        if user is None:
            return await _faulted(call, handler, operation)
        mailbox = ctx.world.mailbox(user)
        if mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        if not ctx.world.may_access(mailbox):
            raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
        call.mailbox = mailbox
        ctx.quota.admit(mailbox.id, ctx.clock.now())
        with ctx.gate.hold(mailbox.id):
            return await _faulted(call, handler, operation)
    except GraphError as exc:
        return _error(exc)
    except Exception:  # a sandbox bug must still answer like Graph, and be visible in the logs
        log.exception("graph.handler.failed", operation=operation)
        return _error(GraphError(500, "generalException", "An unexpected error occurred."))


async def _faulted(call: Call, handler: object, operation: str) -> Reply:
    answer = await call.ctx.faults.before(operation)
    if answer is not None:
        headers = {} if answer.retry_after is None else {"Retry-After": str(int(answer.retry_after))}
        code = _FAULT_CODES.get(answer.status, "UnknownError")
        raise GraphError(answer.status, code, "Injected fault.", headers)
    return await handler(call)  # type: ignore[operator,no-any-return]
