"""`POST /batch/calendar/v3`: Google's multipart/mixed batch, as google-api-python-client sends it.

Each part is an `application/http` request; the sandbox replays it against itself over loopback
(so every inner call passes the same auth, faults and counters as a direct one) and answers with
one `application/http` part per request, `Content-ID: <response-...>` pointing back at it.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from email.message import Message

import aiohttp
from aiohttp import web

from sandbox.google.emulator import EMULATOR
from sandbox.google.errors import GoogleApiError, error_response

__all__ = ["MAX_BATCH", "batch"]

MAX_BATCH = 50  # Calendar API's documented limit of calls per batch
_FORWARDED = ("authorization", "content-type", "if-match")


async def batch(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    status = 200
    try:
        parts = _parts(request.headers.get("Content-Type", ""), await request.read())
        if len(parts) > MAX_BATCH:
            raise GoogleApiError.bad_request(f"A batch may hold at most {MAX_BATCH} requests.")
        boundary = f"batch_{uuid.UUID(int=emulator.world.rng.getrandbits(128)).hex}"
        chunks = []
        async with aiohttp.ClientSession() as session:
            for content_id, raw in parts:
                answer = await _replay(session, str(request.url.origin()), raw)
                chunks.append(
                    f"--{boundary}\r\nContent-Type: application/http\r\n"
                    f"Content-ID: {_response_id(content_id)}\r\n\r\n{answer}\r\n"
                )
        body = "".join(chunks) + f"--{boundary}--\r\n"
        return web.Response(
            body=body.encode(), headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )
    except GoogleApiError as exc:
        status = exc.status
        return error_response(exc)
    finally:
        emulator.counters.call("google.batch", status)


def _parts(content_type: str, body: bytes) -> list[tuple[str, str]]:
    if not content_type.startswith("multipart/mixed"):
        raise GoogleApiError.bad_request("Batch requests must be multipart/mixed.")
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise GoogleApiError.bad_request("Malformed batch request.")
    found = []
    for part in message.get_payload():
        payload = part.get_payload(decode=False) if isinstance(part, Message) else None
        if not isinstance(payload, str) or not isinstance(part, Message):
            raise GoogleApiError.bad_request("Malformed batch part.")
        found.append((str(part.get("Content-ID", "")), payload))
    return found


async def _replay(session: aiohttp.ClientSession, origin: str, raw: str) -> str:
    """Send one serialized request to ourselves; the answer in application/http form."""
    request_line, _, rest = raw.partition("\n")
    method, target, _ = request_line.strip().split(" ", 2)
    head, _, body = rest.replace("\r\n", "\n").partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in _FORWARDED:
            headers[name.strip()] = value.strip()
    async with session.request(
        method, origin + target, headers=headers, data=body.encode() or None
    ) as answer:
        content = await answer.text()
        reason = answer.reason or ""
        kind = answer.headers.get("Content-Type", "application/json; charset=UTF-8")
        extra = f"Retry-After: {answer.headers['Retry-After']}\r\n" if "Retry-After" in answer.headers else ""
        return f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {kind}\r\n{extra}\r\n{content}"


def _response_id(content_id: str) -> str:
    inner = content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    return f"<response-{inner}>"
