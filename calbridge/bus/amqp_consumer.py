"""One RabbitMQ consumer: deliveries in, verdicts carried out, acks only after the broker took the follow-up.

A retried message is published to the delay queue for its delay, a dead one to calbridge.dlx,
both with a confirm, and only then is the original acknowledged: a crash in between delivers it
again (at least once), never loses it. If the follow-up cannot be published the message is
returned to its queue; the queue's delivery limit stops that from looping for ever.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import aiormq.exceptions
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from calbridge.bus.dispatch import Dispatcher
from calbridge.bus.handling import DeadLetter, Delivery, Retry, judge
from calbridge.bus.metrics import record_outcome
from calbridge.bus.names import CALENDAR_HEADER, DLX, delay_queue
from calbridge.bus.wire import Outgoing, Routed, amqp_message
from calbridge.errors import BusUnavailable
from calbridge.logs import get_logger
from calbridge.settings import Settings

__all__ = ["AmqpConsumer"]

log = get_logger(__name__)

Send = Callable[[Sequence[Routed]], Awaitable[None]]

_SETTLE_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError)


class AmqpConsumer:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        queues: Sequence[str],
        decode: Callable[[bytes], Any],
        handler: Callable[[Any], Awaitable[None]],
        retry_target: str,
        settings: Settings,
        send: Send,
    ) -> None:
        self._connection = connection
        self._queues = list(queues)
        self._decode = decode
        self._handler = handler
        self._retry_target = retry_target
        self._settings = settings
        self._send = send
        self._dispatcher = Dispatcher()
        self._channel: AbstractRobustChannel | None = None
        self._stop_callbacks: list[Callable[[AmqpConsumer], None]] = []
        self._stopped = False

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=False)
        await self._channel.set_qos(prefetch_count=self._settings.prefetch)
        for name in self._queues:
            queue = await self._channel.declare_queue(name, passive=True)  # restored after a reconnect
            await queue.consume(partial(self._on_message, name))
        log.info("consumer_started", queues=len(self._queues), prefetch=self._settings.prefetch)

    @property
    def alive(self) -> bool:
        """False once the consumer was stopped, or its channel is closed while the connection is
        up (a channel the broker closed, or one a reconnect did not restore): deliveries no
        longer reach it. While the connection itself is down the robust channel is waiting to
        come back with it, which counts as alive."""
        if self._stopped or self._channel is None:
            return False
        return self._connection.is_closed or not self._channel.is_closed

    def on_stop(self, callback: Callable[[AmqpConsumer], None]) -> None:
        self._stop_callbacks.append(callback)

    async def _on_message(self, queue: str, message: AbstractIncomingMessage) -> None:
        # Runs in aio-pika's task for this delivery; the dispatcher queues it behind earlier
        # deliveries of the same calendar before its first await, so their order is kept.
        key = message.headers.get(CALENDAR_HEADER) if message.headers else None
        await self._dispatcher.run(str(key or ""), partial(self._process, queue, message))

    async def _process(self, queue: str, message: AbstractIncomingMessage) -> None:
        delivery = Delivery(message.body, dict(message.headers or {}), queue)
        verdict = await judge(
            delivery,
            self._decode,
            self._handler,
            self._settings.retry_delays,
            throttle_limit=self._settings.throttle_limit.total_seconds(),
        )
        try:
            if isinstance(verdict, Retry):
                target = delay_queue(self._retry_target, verdict.delay)
                await self._send([("", target, _follow_up(verdict.body, verdict.headers, message))])
            elif isinstance(verdict, DeadLetter):
                await self._send([(DLX, queue, _follow_up(verdict.body, verdict.headers, message))])
        except BusUnavailable as exc:
            log.warning("follow_up_not_published", queue=queue, error=str(exc))
            with contextlib.suppress(*_SETTLE_ERRORS):
                await message.nack(requeue=True)
            return
        try:
            await message.ack()
        except _SETTLE_ERRORS as exc:  # the channel went away: the broker delivers it again
            log.warning("ack_failed", queue=queue, error=type(exc).__name__)
            return
        record_outcome(verdict, queue, message.message_id)

    async def stop(self) -> None:
        """Let running handlers finish, then close the channel; messages not started go back in order.

        The consumer is not cancelled first on purpose: with a single active consumer, cancelling
        would hand the shard to the next consumer while this one still works on a calendar, and
        two workers would touch one calendar at once. Closing the channel after the drain hands
        over cleanly; messages delivered meanwhile are simply not started.
        """
        if self._stopped:
            return
        self._stopped = True
        finished = await self._dispatcher.drain(self._settings.drain_timeout)
        if not finished:
            log.warning("consumer_drain_timed_out", timeout=self._settings.drain_timeout)
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(*_SETTLE_ERRORS):
                await self._channel.close()
        for callback in self._stop_callbacks:
            callback(self)
        log.info("consumer_stopped", drained=finished)


def _follow_up(body: bytes, headers: dict[str, str | int], original: AbstractIncomingMessage) -> Outgoing:
    return amqp_message(body, headers, original.message_id)
