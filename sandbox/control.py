"""`/_control/...`: the provider-neutral control routes (faults, clock, counters, reset).

Each emulator brings its own routes under `/_control/<provider>/` in its own app and registers
a reset hook here, so one `POST /_control/reset` returns the whole sandbox to its seeded state.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults, NotificationFaults, OperationFaults

__all__ = ["CONTROL_PLANE", "ControlPlane", "add_control_routes"]


@dataclass
class ControlPlane:
    faults: Faults
    clock: Clock
    counters: Counters
    resets: dict[str, Callable[[], object]] = field(default_factory=dict)  # provider -> reset hook
    endpoints: dict[str, str] = field(default_factory=dict)  # name -> base URL, for the index

    async def reset(self) -> None:
        self.faults.reset()
        self.faults.mishaps.clear()
        self.counters.reset()
        self.clock.skew(timedelta(0))
        for hook in list(self.resets.values()):
            outcome = hook()
            if inspect.isawaitable(outcome):
                await outcome


CONTROL_PLANE = web.AppKey("control_plane", ControlPlane)


def _plane(request: web.Request) -> ControlPlane:
    return request.app[CONTROL_PLANE]


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read() if request.can_read_body else b""
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(text="body is not JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _faults_view(faults: Faults) -> dict[str, Any]:
    return {
        "seed": faults.seed,
        "operations": {op: dataclasses.asdict(rule) for op, rule in faults.operations.items()},
        "notifications": {p: dataclasses.asdict(rule) for p, rule in faults.notifications.items()},
    }


def _build(kind: type[Any], body: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(body) - names
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown fields: {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in body.items()}
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc


async def index(request: web.Request) -> web.Response:
    plane = _plane(request)
    return web.json_response({"providers": sorted(plane.resets), "endpoints": plane.endpoints})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_faults_view(_plane(request).faults))


async def put_operation_fault(request: web.Request) -> web.Response:
    plane = _plane(request)
    plane.faults.operations[request.match_info["operation"]] = _build(OperationFaults, await _json(request))
    return web.json_response(_faults_view(plane.faults))


async def delete_operation_fault(request: web.Request) -> web.Response:
    plane = _plane(request)
    plane.faults.operations.pop(request.match_info["operation"], None)
    return web.json_response(_faults_view(plane.faults))


async def put_notification_fault(request: web.Request) -> web.Response:
    plane = _plane(request)
    plane.faults.notifications[request.match_info["provider"]] = _build(
        NotificationFaults, await _json(request)
    )
    return web.json_response(_faults_view(plane.faults))


async def clear_faults(request: web.Request) -> web.Response:
    plane = _plane(request)
    plane.faults.reset()
    return web.json_response(_faults_view(plane.faults))


def _clock_view(clock: Clock) -> dict[str, Any]:
    return {"now": clock.now().isoformat(), "offset_seconds": clock.offset.total_seconds()}


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(_clock_view(_plane(request).clock))


async def move_clock(request: web.Request) -> web.Response:
    """`{"advance_seconds": n}` moves time on; `{"skew_seconds": n}` sets the offset outright."""
    clock = _plane(request).clock
    body = await _json(request)
    if "advance_seconds" in body:
        clock.advance(timedelta(seconds=float(body["advance_seconds"])))
    if "skew_seconds" in body:
        clock.skew(timedelta(seconds=float(body["skew_seconds"])))
    return web.json_response(_clock_view(clock))


async def get_counters(request: web.Request) -> web.Response:
    plane = _plane(request)
    # what the emulators counted, and the notifications the faults dropped or duplicated
    return web.json_response({**plane.counters.as_dict(), "notifications": dict(plane.faults.mishaps)})


async def clear_counters(request: web.Request) -> web.Response:
    _plane(request).counters.reset()
    _plane(request).faults.mishaps.clear()
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    await _plane(request).reset()
    return web.Response(status=204)


def add_control_routes(app: web.Application, plane: ControlPlane) -> None:
    app[CONTROL_PLANE] = plane
    app.router.add_get("/_control", index)
    app.router.add_get("/_control/faults", get_faults)
    app.router.add_delete("/_control/faults", clear_faults)
    app.router.add_put("/_control/faults/operations/{operation}", put_operation_fault)
    app.router.add_delete("/_control/faults/operations/{operation}", delete_operation_fault)
    app.router.add_put("/_control/faults/notifications/{provider}", put_notification_fault)
    app.router.add_get("/_control/clock", get_clock)
    app.router.add_post("/_control/clock", move_clock)
    app.router.add_get("/_control/counters", get_counters)
    app.router.add_delete("/_control/counters", clear_counters)
    app.router.add_post("/_control/reset", reset)
