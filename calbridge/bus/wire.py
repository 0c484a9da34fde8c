"""How calbridge messages look on RabbitMQ: persistent JSON, the calendar ref in a header."""

from __future__ import annotations

from typing import NamedTuple

from pamqp.commands import Basic
from pamqp.common import FieldValue

from calbridge.bus.names import CALENDAR_HEADER, CHANGES, LIFECYCLE
from calbridge.events import ChangeEvent, LifecycleEvent, encode

__all__ = ["Outgoing", "Routed", "amqp_message", "route"]

_PERSISTENT = 2  # AMQP delivery mode: the broker writes the message to disk


class Outgoing(NamedTuple):
    """A message as the AMQP client frames it: the body and its basic properties."""

    body: bytes
    properties: Basic.Properties


Routed = tuple[str, str, Outgoing]  # exchange, routing key, message


def amqp_message(body: bytes, headers: dict[str, str | int], message_id: str | None) -> Outgoing:
    # The properties aio-pika's Message would build, made directly: the publish hot path skips
    # aio-pika's message object and publishes on the channel underneath (see AmqpBus).
    return Outgoing(
        body,
        Basic.Properties(
            content_type="application/json",
            delivery_mode=_PERSISTENT,
            priority=0,  # aio-pika's Message always sends it; kept so the frames stay the same
            headers=dict[str, FieldValue](headers),
            message_id=message_id,
        ),
    )


def route(message: ChangeEvent | LifecycleEvent) -> Routed:
    """Where a new message goes: change events to the hash exchange, lifecycle events to their queue."""
    body = amqp_message(encode(message), {CALENDAR_HEADER: message.calendar}, message.id)
    if isinstance(message, ChangeEvent):
        return CHANGES, "", body  # the exchange hashes the header; the routing key is unused
    return "", LIFECYCLE, body
