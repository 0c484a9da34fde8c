"""The RabbitMQ bus: publish with pipelined confirms, consume through the shared outcome policy.

One connection, kept by a `BrokerLink` (it reconnects after a loss, declares the topology on each
new connection, and attaches again the publishing channel and every consumer), carries one
publishing channel with publisher confirms. While the connection is away, `ready()` is False and
publishing fails at once with BusUnavailable; consumers resume when it is back.

Every `publish()` call writes its messages at once and waits for their confirms; concurrent
calls interleave on the same channel, so many messages are in flight and no caller waits for
another's confirm. The wait is bounded by `publish_timeout`; a message without a confirm in time
is reported as BusUnavailable, so the caller (the receiver) answers 5xx and the provider
delivers the notification again: never acknowledged and lost. (A confirm that comes too late may
still mean the broker stored it: a duplicate, which is harmless because the processor treats a
change event as a hint and pulls the truth.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

import aiormq
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection

from calbridge.bus.amqp_consumer import AmqpConsumer
from calbridge.bus.base import ChangeHandler, LifecycleHandler
from calbridge.bus.failures import explain_broker_error
from calbridge.bus.link import BrokerLink
from calbridge.bus.metrics import PUBLISH_SECONDS, PUBLISHES_IN_FLIGHT
from calbridge.bus.names import CHANGES, LIFECYCLE, shard_queue
from calbridge.bus.topology import declare_on
from calbridge.bus.wire import Outgoing, Routed, route
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent, decode_change, decode_lifecycle
from calbridge.logs import get_logger
from calbridge.settings import Settings

__all__ = ["AmqpBus"]

log = get_logger(__name__)

# What a publish can meet when the broker is away, refuses, or cannot route a message.
_BROKER_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError)

# aiormq queues each connection's outgoing frames for its writer task in a queue of
# `Connection.FRAME_BUFFER_SIZE` (10) publishes. When a burst of requests publishes at once, the
# eleventh blocks on the full queue while holding the channel lock, and every later one then
# waits on that lock, one event-loop iteration each, while the writer sends a frame per wake-up:
# measured, that ping-pong cost the receiver ~45 us and the broker ~50 us of CPU per message
# (bench/README.md). Room for a burst lets the writer send it in one go. Memory stays bounded by
# the requests in flight (each waits at most the ack budget), not by this queue: the writer
# hands frames to the socket without waiting for it to drain.
_WRITE_QUEUE_FRAMES = 1024
aiormq.Connection.FRAME_BUFFER_SIZE = max(aiormq.Connection.FRAME_BUFFER_SIZE, _WRITE_QUEUE_FRAMES)


class _PublishingChannel:
    """The link's attachment that publishes: one channel with publisher confirms per connection."""

    def __init__(self, link: BrokerLink) -> None:
        self._link = link
        self.channel: AbstractChannel | None = None

    @property
    def attached(self) -> bool:
        channel = self.channel
        return channel is not None and not channel.is_closed

    async def attach(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(self._on_closed)
        self.channel = channel

    def detach(self) -> None:
        self.channel = None

    def _on_closed(self, channel: object, exc: BaseException | None) -> None:
        if channel is self.channel:  # e.g. the broker closed it after a refused publish
            self.channel = None
            self._link.repair()


class AmqpBus:
    def __init__(self, url: str, settings: Settings, *, role: str = "bus") -> None:
        self._url = url
        self._settings = settings
        self._link = BrokerLink(
            url, role=role, name="calbridge", prepare=partial(declare_on, settings=settings)
        )
        self._publishing = _PublishingChannel(self._link)
        self._consumers: set[AmqpConsumer] = set()

    async def connect(self) -> None:
        """Connect now, or raise BusUnavailable (TopologyMismatch if the broker's topology differs);
        after that the bus reconnects by itself whenever the connection is lost."""
        if self._link.running:
            return
        await self._link.add(self._publishing)
        try:
            await self._link.connect()
        except (*_BROKER_ERRORS, OSError, TimeoutError) as exc:
            raise explain_broker_error(exc, self._url) from exc
        log.info("bus_connected", shards=self._settings.shard_count)

    async def start(self) -> None:
        """Connect now if the broker is there, else keep trying in the background with back-off;
        never raises: `ready()` says when it is connected."""
        if self._link.running:
            return
        await self._link.add(self._publishing)
        await self._link.start()

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        await self._link.close()

    async def ready(self) -> bool:
        return self._link.connected and self._publishing.attached

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        if not messages:
            return
        routed = [route(message) for message in messages]
        await self.send(routed)

    async def send(self, routed: Sequence[Routed]) -> None:
        """Publish (exchange, routing key, message) triples and wait for all confirms, bounded."""
        if not self._publishing.attached:
            raise BusUnavailable("the bus is not connected to the broker")
        count = len(routed)
        PUBLISHES_IN_FLIGHT.inc(count)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.publish_timeout):
                if count == 1:
                    await self._publish_one(*routed[0])
                else:
                    results = await asyncio.gather(
                        *(self._publish_one(*item) for item in routed), return_exceptions=True
                    )
                    for result in results:
                        if isinstance(result, BaseException):
                            raise result
        except TimeoutError:
            raise BusUnavailable(
                f"the broker did not confirm within {self._settings.publish_timeout:g}s"
            ) from None
        except _BROKER_ERRORS as exc:
            raise BusUnavailable(f"the broker did not take the message: {type(exc).__name__}") from exc
        finally:
            PUBLISHES_IN_FLIGHT.dec(count)
        PUBLISH_SECONDS.observe(time.perf_counter() - started)

    async def _publish_one(self, exchange: str, routing_key: str, message: Outgoing) -> None:
        # Straight onto aiormq's channel under aio-pika's (after a reconnect, the new one's):
        # the same frames and confirm as aio-pika's Exchange.publish, without building an
        # aio-pika Message per publish. wait=False: do not wait for the frame to be flushed to
        # the socket (the writer then skips a drain per frame); the broker's confirm is what
        # is awaited, and the write queue is bounded (see _WRITE_QUEUE_FRAMES).
        channel = self._publishing.channel
        if channel is None or channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("the publishing channel is closed")
        # aiormq's own Channel; its abstract base does not declare `wait`.
        underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
        await underlay.basic_publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            properties=message.properties,
            mandatory=True,
            wait=False,
        )

    async def consume_changes(
        self, handler: ChangeHandler, shards: Sequence[int] | None = None
    ) -> AmqpConsumer:
        count = self._settings.shard_count
        chosen = range(count) if shards is None else shards
        if any(not 0 <= shard < count for shard in chosen):
            raise ValueError(f"shards must be within 0..{count - 1}")
        queues = [shard_queue(shard) for shard in chosen]
        return await self._start_consumer(queues, decode_change, handler, CHANGES)

    async def consume_lifecycle(self, handler: LifecycleHandler) -> AmqpConsumer:
        return await self._start_consumer([LIFECYCLE], decode_lifecycle, handler, LIFECYCLE)

    async def _start_consumer(
        self,
        queues: list[str],
        decode: Callable[[bytes], Any],
        handler: Callable[[Any], Awaitable[None]],
        retry_target: str,
    ) -> AmqpConsumer:
        """A consumer kept on the link: consuming now if the broker is there, else once it is."""
        if not self._link.running:
            raise BusUnavailable("the bus is not connected")
        consumer = AmqpConsumer(self._link, queues, decode, handler, retry_target, self._settings, self.send)
        self._consumers.add(consumer)
        consumer.on_stop(self._consumers.discard)
        await self._link.add(consumer)
        return consumer
