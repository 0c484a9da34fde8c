"""The ideal receiver: read the body, publish one fixed event with a confirm, answer 202.

`receiver.py --publish-floor` serves this with the receiver's uvicorn settings and loads it like
the receiver. No authentication, routing, event building, metrics or timeouts: an HTTP server
plus the bare aio-pika publish of the ceiling (same message shape, same exchange, calendars
rotated so the consistent-hash exchange spreads the messages over the shards as the receiver's
do). Whatever rate this reaches is the most any receiver could reach with this server, client
library and broker on this machine.

The broker URL comes from PUBLISH_FLOOR_AMQP_URL; the exchange must exist (the receiver
declares it when it starts).
"""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Any

import aio_pika
import orjson
from http_floor import read_body  # served with --app-dir bench, like http_floor itself

from calbridge.bus.names import CALENDAR_HEADER, CHANGES

CALENDARS = 500
BODY_SIZE = 352  # the mean size of the change events the receiver publishes in receiver.py


def fixed_body() -> bytes:
    """A change event of BODY_SIZE bytes, encoded once: the floor spends nothing on building it."""
    event = {
        "v": 1,
        "id": uuid.uuid4().hex,
        "provider": "graph",
        "calendar": "cal-0000",
        "received_at": "2026-11-21T09:00:00.000000Z",
        "trace_id": uuid.uuid4().hex,
        "kind": "updated",
        "resource": "",
        "version": "100",
        "attempt": 0,
        "reason": "notification",
    }
    event["resource"] = "A" * (BODY_SIZE - len(orjson.dumps(event)))
    return orjson.dumps(event)


BODY = fixed_body()
_calendars = itertools.cycle([f"cal-{n:04d}" for n in range(CALENDARS)])
_exchange: aio_pika.abc.AbstractExchange | None = None
_connection: aio_pika.abc.AbstractConnection | None = None


async def _lifespan(receive: Any, send: Any) -> None:
    global _connection, _exchange
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _connection = await aio_pika.connect(os.environ["PUBLISH_FLOOR_AMQP_URL"])
            channel = await _connection.channel(publisher_confirms=True)
            _exchange = await channel.get_exchange(CHANGES, ensure=False)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _connection is not None:
                await _connection.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    await read_body(receive)
    status = 200
    if scope["method"] == "POST":
        assert _exchange is not None
        # The message the ceiling publishes: same properties, a fresh message id each.
        await _exchange.publish(
            aio_pika.Message(
                BODY,
                headers={CALENDAR_HEADER: next(_calendars)},
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=uuid.uuid4().hex,
            ),
            routing_key="",
        )
        status = 202
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})
