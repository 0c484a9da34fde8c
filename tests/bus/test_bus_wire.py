"""Publishing on aiormq's channel: the frames aio-pika would send, and every failure a BusUnavailable."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from aiormq.abc import ChannelFrame
from bus_harness import bus_settings
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, LIFECYCLE
from calbridge.bus.wire import amqp_message, route
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider, encode


def frames(exchange: str, routing_key: str, body: bytes, properties: Basic.Properties) -> bytes:
    publish = Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=True)
    header = ContentHeader(properties=properties, body_size=len(body))
    return ChannelFrame.marshall(1, [publish, header, ContentBody(body)]).payload


def change() -> ChangeEvent:
    return ChangeEvent(provider=Provider.GOOGLE, calendar="cal-w", kind=ChangeKind.CHANGED, version="7")


@pytest.mark.parametrize(
    "event",
    [
        change(),
        LifecycleEvent(
            provider=Provider.GRAPH, calendar="cal-w", kind=LifecycleKind.MISSED, subscription="sub-1"
        ),
    ],
)
def test_given_an_event_when_routed_then_its_frames_are_byte_for_byte_what_aio_pika_would_send(
    event: ChangeEvent | LifecycleEvent,
) -> None:
    exchange, routing_key, message = route(event)

    as_aio_pika = aio_pika.Message(
        encode(event),
        headers={CALENDAR_HEADER: event.calendar},
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
    )
    assert (exchange, routing_key) == ((CHANGES, "") if isinstance(event, ChangeEvent) else ("", LIFECYCLE))
    assert frames(exchange, routing_key, message.body, message.properties) == frames(
        exchange, routing_key, as_aio_pika.body, as_aio_pika.properties
    )
    assert message.properties.delivery_mode == 2  # persistent


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_given_a_message_nothing_routes_when_sent_then_bus_unavailable(amqp_url: str) -> None:
    bus = AmqpBus(amqp_url, bus_settings(publish_timeout=5))
    await bus.connect()
    try:
        unroutable = amqp_message(b"{}", {CALENDAR_HEADER: "cal-w"}, "m-1")
        with pytest.raises(BusUnavailable, match="did not take"):
            await bus.send([("", "no-such-queue", unroutable)])
        # Then the channel still publishes what does route
        await bus.publish([change()])
    finally:
        await bus.close()


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_given_a_closed_bus_when_publishing_then_bus_unavailable(amqp_url: str) -> None:
    bus = AmqpBus(amqp_url, bus_settings(publish_timeout=5))
    await bus.connect()
    channel = bus._publishing.channel
    assert channel is not None
    await channel.close()
    try:
        with pytest.raises(BusUnavailable):
            await bus.publish([change()])
    finally:
        await bus.close()


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_given_a_burst_of_publishes_then_the_write_queue_has_room_for_them(amqp_url: str) -> None:
    # With aiormq's default of 10, the eleventh publish of a burst waits inside the channel lock
    # and the rest queue on the lock, one event-loop turn each.
    bus = AmqpBus(amqp_url, bus_settings(publish_timeout=5))
    await bus.connect()
    try:
        channel = bus._publishing.channel
        assert channel is not None
        underlay = await channel.get_underlay_channel()
        assert underlay.connection.write_queue.maxsize >= 256
        await asyncio.gather(*(bus.publish([change()]) for _ in range(256)))
    finally:
        await bus.close()
