"""Read a request body without ever holding more than the configured limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from receiver.refusals import BadRequest, PayloadTooLarge

__all__ = ["read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """Return the body, or raise PayloadTooLarge as soon as it is known to exceed `limit`.

    A declared Content-Length over the limit is refused before reading anything; a body sent
    chunked (or lying about its length) is refused at the chunk that crosses the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody will read the answer; refusing keeps a half-sent batch off the bus.
        raise BadRequest("the client went away before the body was complete") from None
    return b"".join(chunks)
