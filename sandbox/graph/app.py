"""The Graph emulator as one aiohttp application: identity, Graph v1.0 and control routes.

Served at the root of one HTTPS origin: `/{tenant}/oauth2/v2.0/token` and the OIDC metadata for
azure-identity, `/v1.0/...` for msgraph-sdk, `/_control/graph/...` for tests and the demo.

Every Graph answer carries `request-id` and `client-request-id` headers, as Graph's do: the
client's own `client-request-id` is echoed (msgraph-sdk sends one), else the request id is used;
an error body's `innerError` names the same two ids.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiDict

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.graph import batch, delta, events, mailbox_settings, schedule, subscriptions
from sandbox.graph.context import GraphContext
from sandbox.graph.control import add_control_routes
from sandbox.graph.delta import DeltaStore
from sandbox.graph.dispatch import dispatch
from sandbox.graph.errors import error_body
from sandbox.graph.identity import bearer_ok, openid_configuration, token
from sandbox.graph.notify import Notifier
from sandbox.graph.prefs import applied
from sandbox.graph.routing import make_call
from sandbox.graph.state import GraphWorld
from sandbox.graph.throttle import MailboxGate, MailboxQuota

__all__ = ["CONTEXT", "build_graph_app"]

CONTEXT: web.AppKey[GraphContext] = web.AppKey("graph_context", GraphContext)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def _request_ids(request: web.Request) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    client_id = request.headers.get("client-request-id") or request_id
    return {"request-id": request_id, "client-request-id": client_id}


def _stamp(body: Any, ids: dict[str, str]) -> Any:
    """An error body's innerError, naming the ids of this request."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"].setdefault("innerError", {})
        if isinstance(inner, dict):
            inner.update(ids)
    return body


async def _graph(request: web.Request) -> web.Response:
    ids = _request_ids(request)
    response = await _answer(request, ids)
    response.headers.update(ids)
    return response


async def _answer(request: web.Request, ids: dict[str, str]) -> web.Response:
    ctx = request.app[CONTEXT]
    problem = bearer_ok(ctx.world, request.headers.get("Authorization"))
    if problem is not None:
        ctx.counters.call("graph.auth", 401)
        return _json(401, _stamp(error_body("InvalidAuthenticationToken", problem), ids))
    body: Any = None
    raw = await request.read()
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            return _json(400, _stamp(error_body("BadRequest", "Unable to read JSON request payload."), ids))
    path = "/" + request.match_info["tail"]
    call = make_call(
        ctx,
        request.method,
        path,
        MultiDict(request.query),
        CIMultiDict(request.headers),
        body,
        _origin(request),
    )
    reply = await dispatch(call)
    preference = applied(call.prefs)
    if preference is not None and reply.status < 400:
        reply.headers.setdefault("Preference-Applied", preference)
    return _json(reply.status, _stamp(reply.body, ids) if reply.status >= 400 else reply.body, reply.headers)


async def _token(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    response = await token(ctx.world, request.match_info["tenant"], await request.post())
    ctx.counters.call("graph.token", response.status)
    return response


async def _openid(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if request.match_info["tenant"].lower() != ctx.world.tenant_id.lower():
        return web.json_response({"error": "invalid_tenant"}, status=400)
    return web.json_response(openid_configuration(ctx.world, _origin(request)))


def build_graph_app(world: GraphWorld, faults: Faults, clock: Clock, counters: Counters) -> web.Application:
    notifier = Notifier(world, faults, clock)
    ctx = GraphContext(
        world=world,
        faults=faults,
        clock=clock,
        counters=counters,
        gate=MailboxGate(world.mailbox_concurrency, world.throttle_retry_after),
        quota=MailboxQuota(world.mailbox_requests, world.mailbox_request_window),
        notifier=notifier,
        delta=DeltaStore(),
        routes=[
            *batch.ROUTES,
            *subscriptions.ROUTES,
            *schedule.ROUTES,
            *delta.ROUTES,
            *events.ROUTES,
            *mailbox_settings.ROUTES,
        ],
    )
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[CONTEXT] = ctx
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", _openid)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token)
    add_control_routes(app, ctx)
    app.router.add_route("*", "/v1.0/{tail:.*}", _graph)

    async def close_notifier(_: web.Application) -> None:
        await notifier.close()

    app.on_cleanup.append(close_notifier)
    return app
