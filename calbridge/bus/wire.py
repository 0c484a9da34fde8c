"""How calbridge messages look on RabbitMQ: persistent JSON, the calendar ref in a header."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import DeliveryMode
from pamqp.common import FieldValue

from calbridge.bus.names import CALENDAR_HEADER, CHANGES, LIFECYCLE
from calbridge.events import ChangeEvent, LifecycleEvent, encode

__all__ = ["Routed", "amqp_message", "route"]

Routed = tuple[str, str, aio_pika.Message]  # exchange, routing key, message


def amqp_message(body: bytes, headers: dict[str, str | int], message_id: str | None) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        headers=dict[str, FieldValue](headers),
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message_id,
    )


def route(message: ChangeEvent | LifecycleEvent) -> Routed:
    """Where a new message goes: change events to the hash exchange, lifecycle events to their queue."""
    body = amqp_message(encode(message), {CALENDAR_HEADER: message.calendar}, message.id)
    if isinstance(message, ChangeEvent):
        return CHANGES, "", body  # the exchange hashes the header; the routing key is unused
    return "", LIFECYCLE, body
