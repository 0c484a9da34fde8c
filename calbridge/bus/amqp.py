"""The RabbitMQ bus: publish with pipelined confirms, consume through the shared outcome policy.

One robust connection (it reconnects and restores consumers by itself) carries one publishing
channel with publisher confirms. Every `publish()` call writes its messages at once and waits for
their confirms; concurrent calls interleave on the same channel, so many messages are in flight
and no caller waits for another's confirm. The wait is bounded by `publish_timeout`; a message
without a confirm in time is reported as BusUnavailable, so the caller (the receiver) answers
5xx and the provider delivers the notification again: never acknowledged and lost. (A confirm
that comes too late may still mean the broker stored it: a duplicate, which is harmless because
the processor treats a change event as a hint and pulls the truth.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import aio_pika
import aiormq
import aiormq.exceptions
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from calbridge.bus.amqp_consumer import AmqpConsumer
from calbridge.bus.base import ChangeHandler, LifecycleHandler
from calbridge.bus.failures import explain_broker_error
from calbridge.bus.metrics import PUBLISH_SECONDS, PUBLISHES_IN_FLIGHT
from calbridge.bus.names import CHANGES, LIFECYCLE, shard_queue
from calbridge.bus.topology import declare_topology
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


class AmqpBus:
    def __init__(self, url: str, settings: Settings) -> None:
        self._url = url
        self._settings = settings
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._consumers: set[AmqpConsumer] = set()

    async def connect(self) -> None:
        if self._connection is not None:
            return
        try:
            await declare_topology(self._url, self._settings)
            self._connection = await aio_pika.connect_robust(
                self._url,
                client_properties={"connection_name": "calbridge"},
                reconnect_interval=1,  # a broker restart costs a second, not the default five
            )
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        except (*_BROKER_ERRORS, OSError) as exc:
            raise explain_broker_error(exc, self._url) from exc
        log.info("bus_connected", shards=self._settings.shard_count)

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._channel = None

    async def ready(self) -> bool:
        connection, channel = self._connection, self._channel
        return (
            connection is not None
            and channel is not None
            and connection.connected.is_set()
            and not connection.is_closed
            and not channel.is_closed
        )

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        if not messages:
            return
        routed = [route(message) for message in messages]
        await self.send(routed)

    async def send(self, routed: Sequence[Routed]) -> None:
        """Publish (exchange, routing key, message) triples and wait for all confirms, bounded."""
        if self._channel is None:
            raise BusUnavailable("the bus is not connected")
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
        # Straight onto aiormq's channel under the robust one (after a reconnect it is the new
        # one): the same frames and confirm as aio-pika's Exchange.publish, without building an
        # aio-pika Message per publish. wait=False: do not wait for the frame to be flushed to
        # the socket (the writer then skips a drain per frame); the broker's confirm is what
        # is awaited, and the write queue is bounded (see _WRITE_QUEUE_FRAMES).
        channel = self._channel
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
        if self._connection is None:
            raise BusUnavailable("the bus is not connected")
        consumer = AmqpConsumer(
            self._connection, queues, decode, handler, retry_target, self._settings, self.send
        )
        await consumer.start()
        self._consumers.add(consumer)
        consumer.on_stop(self._consumers.discard)
        return consumer
