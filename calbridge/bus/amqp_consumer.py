"""One RabbitMQ consumer: deliveries in, verdicts carried out, acks only after the broker took the follow-up.

A retried message is published to the delay queue for its delay, a dead one to calbridge.dlx,
both with a confirm, and only then is the original acknowledged: a crash in between delivers it
again (at least once), never loses it. If the follow-up cannot be published the message is
returned to its queue; the queue's delivery limit stops that from looping for ever.

A consumer outlives its channels: it is an attachment of the bus's `BrokerLink`, which attaches
it (a channel, prefetch, one basic.consume per queue) on every new connection, and again when
the broker closed its channel under a live connection. Its dispatcher stays the same across
them, so a message redelivered after a reconnect still waits behind the handler that is still
working on the same calendar. Deliveries from a channel that is gone are not started: the
broker delivers them again on the new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from calbridge.bus.dispatch import Dispatcher
from calbridge.bus.handling import DeadLetter, Delivery, Retry, judge
from calbridge.bus.link import BrokerLink
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
        link: BrokerLink,
        queues: Sequence[str],
        decode: Callable[[bytes], Any],
        handler: Callable[[Any], Awaitable[None]],
        retry_target: str,
        settings: Settings,
        send: Send,
    ) -> None:
        self._link = link
        self._queues = list(queues)
        self._decode = decode
        self._handler = handler
        self._retry_target = retry_target
        self._settings = settings
        self._send = send
        self._dispatcher = Dispatcher()
        self._channel: AbstractChannel | None = None
        self._stop_callbacks: list[Callable[[AmqpConsumer], None]] = []
        self._stopped = False

    # --- as an attachment of the link

    @property
    def attached(self) -> bool:
        channel = self._channel
        return channel is not None and not channel.is_closed

    async def attach(self, connection: AbstractConnection) -> None:
        """Consume every queue on a new channel of `connection`; on failure, leave none open."""
        if self._stopped or self.attached:
            return
        channel = await connection.channel(publisher_confirms=False)
        try:
            await channel.set_qos(prefetch_count=self._settings.prefetch)
            for name in self._queues:
                queue = await channel.declare_queue(name, passive=True)
                await queue.consume(partial(self._on_message, name))
        except BaseException:
            with contextlib.suppress(*_SETTLE_ERRORS):
                await channel.close()
            raise
        channel.close_callbacks.add(self._on_channel_closed)
        self._channel = channel
        log.info("consumer_started", queues=len(self._queues), prefetch=self._settings.prefetch)

    def detach(self) -> None:
        self._channel = None

    def _on_channel_closed(self, channel: object, exc: BaseException | None) -> None:
        if channel is not self._channel:
            return
        self._channel = None
        if not self._stopped:  # the broker closed it, or the connection went: the link repairs
            log.warning("consumer_channel_closed", queues=len(self._queues), error=type(exc).__name__)
            self._link.repair()

    # --- what its owner sees

    @property
    def consuming(self) -> bool:
        """Deliveries reach this consumer now: it runs and is attached to a live connection."""
        return not self._stopped and self.attached

    @property
    def alive(self) -> bool:
        """False once stopped. A consumer whose connection is away is alive: the link attaches it
        again when the connection is back (`consuming` says whether it is attached now)."""
        return not self._stopped

    def on_stop(self, callback: Callable[[AmqpConsumer], None]) -> None:
        self._stop_callbacks.append(callback)

    # --- deliveries

    async def _on_message(self, queue: str, message: AbstractIncomingMessage) -> None:
        # Runs in aio-pika's task for this delivery; the dispatcher queues it behind earlier
        # deliveries of the same calendar before its first await, so their order is kept.
        key = message.headers.get(CALENDAR_HEADER) if message.headers else None
        await self._dispatcher.run(str(key or ""), partial(self._process, queue, message))

    async def _process(self, queue: str, message: AbstractIncomingMessage) -> None:
        if not _channel_open(message):  # it is delivered again on the new channel
            return
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
        over cleanly; messages delivered meanwhile are simply not started. The link lets go of it
        first, so a reconnect during the drain does not attach it again.
        """
        if self._stopped:
            return
        self._stopped = True
        self._link.remove(self)
        finished = await self._dispatcher.drain(self._settings.drain_timeout)
        if not finished:
            log.warning("consumer_drain_timed_out", timeout=self._settings.drain_timeout)
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(*_SETTLE_ERRORS):
                await channel.close()
        for callback in self._stop_callbacks:
            callback(self)
        log.info("consumer_stopped", drained=finished)


def _channel_open(message: AbstractIncomingMessage) -> bool:
    try:
        message.channel  # noqa: B018 - aio-pika raises when the delivery's channel is closed
    except aiormq.exceptions.ChannelInvalidStateError:
        return False
    return True


def _follow_up(body: bytes, headers: dict[str, str | int], original: AbstractIncomingMessage) -> Outgoing:
    return amqp_message(body, headers, original.message_id)
