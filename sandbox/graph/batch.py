"""`POST /$batch`: up to 20 requests, run through the same router, at most 4 at a time
(Outlook's parallelism for a batch); each is throttled and counted on its own."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from multidict import CIMultiDict, MultiDict

from sandbox.graph.dispatch import dispatch
from sandbox.graph.errors import GraphError, error_body
from sandbox.graph.routing import Call, Reply, Route, make_call, route

__all__ = ["ROUTES"]

MAX_REQUESTS = 20
PARALLEL = 4


def _relative(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = unquote(parts.path if parts.path.startswith("/") else "/" + parts.path)
    for version in ("/v1.0", "/beta"):
        if path.lower().startswith(version + "/"):
            path = path[len(version) :]
    return path, parts.query


async def _one(call: Call, request: dict[str, Any], gate: asyncio.Semaphore) -> dict[str, Any]:
    request_id = str(request.get("id", ""))
    method, url = str(request.get("method", "")).upper(), str(request.get("url", ""))
    if not method or not url:
        reply = Reply(400, error_body("BadRequest", "Each request needs a method and a url."))
    elif _relative(url)[0].lower().startswith("/$batch"):
        reply = Reply(400, error_body("BadRequest", "A batch cannot contain a batch."))
    else:
        path, query = _relative(url)
        headers = CIMultiDict({str(k): str(v) for k, v in (request.get("headers") or {}).items()})
        inner = make_call(
            call.ctx, method, path, MultiDict(_parse_query(query)), headers, request.get("body"), call.origin
        )
        async with gate:
            reply = await dispatch(inner)
    answer_headers = dict(reply.headers)
    if reply.body is not None:
        answer_headers.setdefault("Content-Type", "application/json")
    out: dict[str, Any] = {"id": request_id, "status": reply.status, "headers": answer_headers}
    if reply.body is not None:
        out["body"] = reply.body
    return out


def _parse_query(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


async def post_batch(call: Call) -> Reply:
    requests = call.body.get("requests") if isinstance(call.body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise GraphError(400, "BadRequest", "The batch must carry a non-empty 'requests' array.")
    if len(requests) > MAX_REQUESTS:
        raise GraphError(400, "BadRequest", "Number of batch request steps exceeds the maximum of 20.")
    gate = asyncio.Semaphore(PARALLEL)
    responses = await asyncio.gather(*(_one(call, r, gate) for r in requests))
    return Reply(200, {"responses": list(responses)})


ROUTES: list[Route] = [route("POST", r"/\$batch", "batch", post_batch)]
