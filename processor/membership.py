"""Which processor replicas are alive, learnt through the broker itself (no coordinator).

Every replica binds its own exclusive, auto-deleted queue to the fanout exchange
`calbridge.processors` and publishes a heartbeat there every `interval` seconds. A member not
heard from for `3 * interval` is gone; a replica that stops says so on its way out, so its
shards move at once instead of after the timeout. `on_change` is called with the set (itself
included) when it changes, and again on every beat: it must be idempotent, and that repeat is
what repairs a rebalance that failed (the broker was away) or a consumer lost in a reconnect.

The heartbeat channel, exchange and queue are an attachment of a `BrokerLink` of their own, set
up again on every new connection; while it is away, beats fail (the others time this replica
out and take its shards, which it gets back once they hear it again) and `connected` is False.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq.exceptions
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    ExchangeType,
)

from calbridge.bus.link import BrokerLink
from calbridge.errors import BusUnavailable
from calbridge.logs import get_logger

__all__ = ["MEMBERS_EXCHANGE", "Membership"]

log = get_logger(__name__)

MEMBERS_EXCHANGE = "calbridge.processors"
_MISSED_BEATS = 3

OnChange = Callable[[frozenset[str]], Awaitable[None]]


class Membership:
    def __init__(self, url: str, member: str, interval: float, on_change: OnChange) -> None:
        self.member = member
        self._interval = interval
        self._on_change = on_change
        self._seen: dict[str, float] = {member: time.monotonic()}
        self._known: frozenset[str] = frozenset()
        self._link = BrokerLink(url, role="membership", name=f"calbridge-processor-{member}")
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._beat: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._notifier: asyncio.Task[None] | None = None

    @property
    def members(self) -> frozenset[str]:
        return self._known

    @property
    def connected(self) -> bool:
        """Beats go out and come in now."""
        return self._link.ready

    async def start(self) -> None:
        await self._link.add(self)
        try:
            await self._link.connect()
        except (aiormq.exceptions.AMQPError, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"cannot reach the broker for the heartbeats: {type(exc).__name__}") from exc
        await self._publish("alive")
        # Listen for one round before the first decision, so a new replica does not briefly
        # claim every shard.
        await asyncio.sleep(self._interval * 1.5)
        self._refresh()
        await self._hand_over()  # the first assignment, before start returns
        self._changed.clear()
        self._beat = asyncio.create_task(self._run())
        self._notifier = asyncio.create_task(self._notify())

    # --- as an attachment of the link

    @property
    def attached(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def attach(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        try:
            exchange = await channel.declare_exchange(MEMBERS_EXCHANGE, ExchangeType.FANOUT, durable=True)
            queue = await channel.declare_queue(
                "",
                exclusive=True,
                auto_delete=True,
                arguments={"x-message-ttl": round(self._interval * 3000)},
            )
            await queue.bind(exchange)
            await queue.consume(self._on_heartbeat, no_ack=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        channel.close_callbacks.add(self._on_channel_closed)
        self._channel, self._exchange = channel, exchange

    def detach(self) -> None:
        self._channel = self._exchange = None

    def _on_channel_closed(self, channel: object, exc: BaseException | None) -> None:
        if channel is self._channel:
            self.detach()
            self._link.repair()

    async def stop(self) -> None:
        for task in (self._beat, self._notifier):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):  # best effort: the others time us out anyway
            await self._publish("leaving")
        self._link.remove(self)
        await self._link.close()

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._publish("alive")
            except Exception as exc:  # the link brings the connection back; keep beating
                if not failing:  # once per outage, not once per beat
                    log.warning("heartbeat_failed", error=type(exc).__name__)
                failing = True
            else:
                if failing:
                    log.info("heartbeat_resumed")
                failing = False
            self._refresh()
            self._changed.set()  # check the consumers against the shards owned, changed or not

    async def _notify(self) -> None:
        """Hand member changes to `on_change` one at a time, always the latest set. Apart from the
        heartbeat loop: a rebalance that drains a shard for a while must not stop the beats, or
        the others would take this replica for gone."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._hand_over()

    async def _hand_over(self) -> None:
        try:
            await self._on_change(self._known)
        except Exception as exc:  # the next beat calls it again
            log.error("rebalance_failed", error=type(exc).__name__, exc_info=exc)

    async def _publish(self, state: str) -> None:
        if self._exchange is None:
            raise ConnectionError("the membership link is not connected")
        body = orjson.dumps({"member": self.member, "state": state})
        await self._exchange.publish(aio_pika.Message(body, expiration=self._interval * 3), routing_key="")

    async def _on_heartbeat(self, message: AbstractIncomingMessage) -> None:
        try:
            beat = orjson.loads(message.body)
            member, state = str(beat["member"]), str(beat["state"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if member == self.member:
            return
        if state == "leaving":
            self._seen.pop(member, None)
            self._refresh()
        else:
            known = member in self._seen
            self._seen[member] = time.monotonic()
            if not known:
                self._refresh()

    def _refresh(self) -> None:
        now = time.monotonic()
        self._seen[self.member] = now
        horizon = now - self._interval * _MISSED_BEATS
        for member in [m for m, seen in self._seen.items() if seen < horizon]:
            del self._seen[member]
        members = frozenset(self._seen)
        if members != self._known:
            self._known = members
            log.info("processor_members_changed", members=len(members))
            self._changed.set()
