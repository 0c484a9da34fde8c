"""`POST /v1/freebusy`, `GET /v1/meetings` and `GET /openapi.json`, as routes to mount anywhere
or as an app alone. The meeting list (`calbridge.meetings`) shares free/busy's keys, limits,
caching and OpenAPI document; with it, free/busy answers carry each address's `oof` too.

Order of checks: the bearer key (401/403), the media type (415), the body size (413), JSON
(400), then the request's validation (422; 413 for too many addresses). Only a valid request
reaches the providers, and its answer is always 200 with per-address errors. The meeting list
checks the key, then its query string (422), and answers 200 with its own `error` if need be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from calbridge.freebusy.auth import AuthRefusal, authenticate
from calbridge.freebusy.metrics import MEETING_REQUESTS, REQUESTS
from calbridge.freebusy.models import (
    ADDRESS_LIMIT_ERROR,
    FreeBusyRequest,
    Limits,
    Problem,
    render_response,
)
from calbridge.freebusy.openapi import FREEBUSY_PATH, MEETINGS_PATH, OPENAPI_PATH, openapi_document
from calbridge.freebusy.orchestrate import Lookup
from calbridge.freebusy.types import AddressError
from calbridge.meetings.lookup import MeetingLookup
from calbridge.meetings.models import MeetingsQuery, render_meetings

__all__ = ["MAX_BODY_BYTES", "create_freebusy_app", "freebusy_routes"]

M = TypeVar("M", bound=BaseModel)
# A request of 1,000 addresses of 320 characters fits; anything larger is not a free/busy query.
MAX_BODY_BYTES = 400_000
_PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
}


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.freebusy")  # type: ignore[no-any-return]


class _Refused(Exception):
    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


@dataclass(frozen=True)
class _Api:
    lookup: Lookup
    keys: Mapping[str, bytes]
    limits: Limits
    description: bytes  # the OpenAPI document, built once: it costs milliseconds
    meetings: MeetingLookup | None = None

    async def freebusy(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            caller = self._authenticate(request)
            query = await self._read(request)
        except _Refused as refusal:
            REQUESTS.labels(str(refusal.status)).inc()
            _log().info("freebusy_refused", status=refusal.status, reason=refusal.detail)
            return _problem(refusal)
        if self.meetings is None:
            outcomes, oof = await self.lookup.answer(query.addresses, query.window()), None
        else:
            outcomes, oof = await asyncio.gather(
                self.lookup.answer(query.addresses, query.window()), self.meetings.oof_of(query.addresses)
            )
        answer = render_response(query, outcomes, oof)
        REQUESTS.labels("200").inc()
        _log().info(
            "freebusy_answered",
            caller=caller,
            asked=len(outcomes),  # a name without "address": the log redactor would hide the count
            errors=sum(isinstance(o, AddressError) for o in outcomes.values()),
            seconds=round(time.perf_counter() - started, 4),
        )
        return Response(
            answer.model_dump_json(by_alias=True, exclude_none=True), media_type="application/json"
        )

    async def meeting_list(self, request: Request) -> Response:
        assert self.meetings is not None  # the route exists only with a meeting lookup
        started = time.perf_counter()
        try:
            caller = self._authenticate(request)
            query = _validated(MeetingsQuery, dict(request.query_params), self.limits)
        except _Refused as refusal:
            MEETING_REQUESTS.labels(str(refusal.status)).inc()
            _log().info("meetings_refused", status=refusal.status, reason=refusal.detail)
            return _problem(refusal)
        outcome = await self.meetings.answer(query.address, query.window())
        answer = render_meetings(query, outcome)
        MEETING_REQUESTS.labels("200").inc()
        _log().info(
            "meetings_answered",
            caller=caller,
            listed=len(answer.meetings),
            failed=answer.error is not None,
            seconds=round(time.perf_counter() - started, 4),
        )
        return Response(
            answer.model_dump_json(by_alias=True, exclude_none=True), media_type="application/json"
        )

    async def openapi(self, request: Request) -> Response:
        return Response(self.description, media_type="application/json")

    def _authenticate(self, request: Request) -> str:
        verdict = authenticate(request.headers.get("authorization"), self.keys)
        if isinstance(verdict, AuthRefusal):
            raise _Refused(verdict.status, verdict.reason)
        return verdict

    async def _read(self, request: Request) -> FreeBusyRequest:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise _Refused(415, "send the request as application/json")
        body = await _read_body(request, MAX_BODY_BYTES)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _Refused(400, "the body is not valid JSON") from None
        return _validated(FreeBusyRequest, data, self.limits)


def _validated(model: type[M], data: Any, limits: Limits) -> M:
    """`data` validated against `model` with the limits; 422 (413 for too many addresses)."""
    try:
        return model.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        errors = [
            {"field": "/".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        status = 413 if any(err["type"] == ADDRESS_LIMIT_ERROR for err in exc.errors()) else 422
        raise _Refused(status, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Refused(400, "the client went away before the body was complete") from None
    return b"".join(chunks)


def _problem(refusal: _Refused) -> Response:
    problem = Problem(
        title=_TITLES.get(refusal.status, "Error"),
        status=refusal.status,
        detail=refusal.detail,
        errors=refusal.errors,
    )
    headers = {"WWW-Authenticate": 'Bearer realm="calbridge-freebusy"'} if refusal.status == 401 else None
    return Response(
        problem.model_dump_json(exclude_none=True),
        status_code=refusal.status,
        media_type=_PROBLEM,
        headers=headers,
    )


def freebusy_routes(
    lookup: Lookup, *, keys: Mapping[str, bytes], limits: Limits, meetings: MeetingLookup | None = None
) -> list[BaseRoute]:
    """The routes (the meeting list's when `meetings` is given), to add to another Starlette app
    (the receiver's) or to serve alone."""
    if not keys:
        raise ValueError("free/busy needs at least one bearer key")
    document = openapi_document(limits, meetings=meetings is not None)
    api = _Api(lookup=lookup, keys=keys, limits=limits, description=orjson.dumps(document), meetings=meetings)
    routes: list[BaseRoute] = [
        Route(FREEBUSY_PATH, api.freebusy, methods=["POST"]),
        Route(OPENAPI_PATH, api.openapi, methods=["GET"]),
    ]
    if meetings is not None:
        routes.append(Route(MEETINGS_PATH, api.meeting_list, methods=["GET"]))
    return routes


def create_freebusy_app(
    lookup: Lookup,
    *,
    keys: Mapping[str, bytes],
    limits: Limits | None = None,
    meetings: MeetingLookup | None = None,
) -> Starlette:
    """The free/busy API on its own, for a deployment that does not run the receiver."""
    routes = freebusy_routes(lookup, keys=keys, limits=limits or Limits(), meetings=meetings)
    routes.append(Route("/healthz", _healthz, methods=["GET"]))
    return Starlette(routes=routes)


async def _healthz(request: Request) -> Response:
    return Response("ok", media_type="text/plain")
