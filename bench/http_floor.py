"""An ASGI app that reads the body and answers 200: the floor under the receiver in `receiver.py`.

Served by the same uvicorn settings as the receiver, it shows what the HTTP server and the load
generator cost on their own, so the receiver's figures can be read against them.
"""

from __future__ import annotations

from typing import Any


async def read_body(receive: Any) -> None:
    """Take the request body off the connection (its bytes are not needed)."""
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body", False))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
