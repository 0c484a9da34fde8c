"""The in-process bus for the single-process demo: RabbitMQ's semantics without RabbitMQ.

Same outcome policy as the RabbitMQ bus (`handling.judge`): handled -> gone; retry -> back after
the scheduled delay (a loop timer stands in for the delay queue); dead -> `dead_letters`, with the
same headers. One FIFO per shard, routed by calendar ref, and one active consumer per queue at a
time, so one calendar's changes are handled in order. Nothing survives the process: this bus is
for the demo and tests, never for a deployment.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from calbridge.bus.base import ChangeHandler, LifecycleHandler
from calbridge.bus.dispatch import Dispatcher
from calbridge.bus.handling import DeadLetter, Delivery, Retry, Verdict, judge
from calbridge.bus.metrics import record_outcome
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, LIFECYCLE, shard_of, shard_queue
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent, decode_change, decode_lifecycle, encode
from calbridge.settings import Settings

__all__ = ["DeadLetterRecord", "MemoryBus", "MemoryConsumer"]


@dataclass(frozen=True, slots=True)
class _Item:
    seq: int  # arrival order, to put unfinished messages back where they were
    body: bytes
    headers: dict[str, object]


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A message in the memory bus's dead-letter queue, as `calbridge.dlq` would hold it."""

    body: bytes
    headers: dict[str, object]


@dataclass(eq=False)
class _Queue:
    name: str
    items: deque[_Item] = field(default_factory=deque)
    nonempty: asyncio.Event = field(default_factory=asyncio.Event)
    active: asyncio.Lock = field(default_factory=asyncio.Lock)  # held by the single active consumer

    def put(self, item: _Item) -> None:
        self.items.append(item)
        self.nonempty.set()

    def put_back(self, items: Iterable[_Item]) -> None:
        self.items.extendleft(sorted(items, key=lambda item: item.seq, reverse=True))
        if self.items:
            self.nonempty.set()

    async def get(self) -> _Item:
        while not self.items:
            self.nonempty.clear()
            await self.nonempty.wait()
        return self.items.popleft()


class MemoryBus:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queues = {name: _Queue(name) for name in _queue_names(settings.shard_count)}
        self._seq = itertools.count()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._consumers: set[MemoryConsumer] = set()
        self._open = False
        self.dead_letters: list[DeadLetterRecord] = []  # inspectable, like calbridge.dlq

    async def connect(self) -> None:
        self._open = True

    async def start(self) -> None:
        await self.connect()

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._open = False

    async def ready(self) -> bool:
        return self._open

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        if not self._open:
            raise BusUnavailable("the memory bus is closed")
        for message in messages:
            target = CHANGES if isinstance(message, ChangeEvent) else LIFECYCLE
            self.publish_raw(encode(message), message.calendar, target)

    def publish_raw(self, body: bytes, calendar: str, target: str = CHANGES) -> None:
        """Put bytes on the bus as they would arrive from the wire (e.g. an undecodable message)."""
        self._deliver(target, body, {CALENDAR_HEADER: calendar})

    def depth(self, queue: str) -> int:
        """Messages waiting in a queue (not counting those handed to a consumer)."""
        return len(self._queues[queue].items)

    def _deliver(self, target: str, body: bytes, headers: dict[str, object]) -> None:
        if target == CHANGES:
            calendar = str(headers.get(CALENDAR_HEADER, ""))
            target = shard_queue(shard_of(calendar, self._settings.shard_count))
        self._queues[target].put(_Item(next(self._seq), body, headers))

    def settle(self, verdict: Verdict, queue: str, retry_target: str) -> None:
        """Carry out a verdict: a timer for a retry, the dead-letter list for a dead message."""
        if isinstance(verdict, Retry):
            key = next(self._seq)
            self._timers[key] = asyncio.get_running_loop().call_later(
                verdict.delay,
                self._redeliver,
                key,
                retry_target,
                verdict.body,
                dict[str, object](verdict.headers),
            )
        elif isinstance(verdict, DeadLetter):
            self.dead_letters.append(DeadLetterRecord(verdict.body, dict(verdict.headers)))
        record_outcome(verdict, queue, None)

    def _redeliver(self, key: int, target: str, body: bytes, headers: dict[str, object]) -> None:
        del self._timers[key]
        if self._open:
            self._deliver(target, body, headers)

    async def consume_changes(
        self, handler: ChangeHandler, shards: Sequence[int] | None = None
    ) -> MemoryConsumer:
        count = self._settings.shard_count
        chosen = range(count) if shards is None else shards
        if any(not 0 <= shard < count for shard in chosen):
            raise ValueError(f"shards must be within 0..{count - 1}")
        queues = [self._queues[shard_queue(shard)] for shard in chosen]
        return self._start(queues, decode_change, handler, CHANGES)

    async def consume_lifecycle(self, handler: LifecycleHandler) -> MemoryConsumer:
        return self._start([self._queues[LIFECYCLE]], decode_lifecycle, handler, LIFECYCLE)

    def _start(
        self,
        queues: list[_Queue],
        decode: Callable[[bytes], Any],
        handler: Callable[[Any], Awaitable[None]],
        retry_target: str,
    ) -> MemoryConsumer:
        if not self._open:
            raise BusUnavailable("the memory bus is closed")
        consumer = MemoryConsumer(self, queues, decode, handler, retry_target, self._settings)
        self._consumers.add(consumer)
        return consumer

    def forget(self, consumer: MemoryConsumer) -> None:
        self._consumers.discard(consumer)


class MemoryConsumer:
    def __init__(
        self,
        bus: MemoryBus,
        queues: list[_Queue],
        decode: Callable[[bytes], Any],
        handler: Callable[[Any], Awaitable[None]],
        retry_target: str,
        settings: Settings,
    ) -> None:
        self._bus = bus
        self._decode = decode
        self._handler = handler
        self._retry_target = retry_target
        self._settings = settings
        self._dispatcher = Dispatcher()
        self._unsettled: dict[str, dict[int, _Item]] = {queue.name: {} for queue in queues}
        self._drained = asyncio.Event()
        self._pumps = [asyncio.create_task(self._pump(queue)) for queue in queues]
        self._stopped = False

    async def _pump(self, queue: _Queue) -> None:
        async with queue.active:  # single active consumer: the next one waits here
            credit = asyncio.Semaphore(self._settings.prefetch)
            try:
                while True:
                    await credit.acquire()
                    item = await queue.get()
                    self._unsettled[queue.name][item.seq] = item
                    calendar = str(item.headers.get(CALENDAR_HEADER, ""))
                    self._dispatcher.submit(calendar, partial(self._process, queue, item, credit))
            except asyncio.CancelledError:
                # Stopping: hold the queue until running handlers are done, then return the
                # messages never finished to the front, in order, for the next consumer.
                await self._drained.wait()
                queue.put_back(self._unsettled[queue.name].values())
                self._unsettled[queue.name].clear()
                raise

    async def _process(self, queue: _Queue, item: _Item, credit: asyncio.Semaphore) -> None:
        delivery = Delivery(item.body, item.headers, queue.name)
        verdict = await judge(
            delivery,
            self._decode,
            self._handler,
            self._settings.retry_delays,
            throttle_limit=self._settings.throttle_limit.total_seconds(),
        )
        self._bus.settle(verdict, queue.name, self._retry_target)
        del self._unsettled[queue.name][item.seq]
        credit.release()

    @property
    def consuming(self) -> bool:
        return not self._stopped

    async def stop(self) -> None:
        """Let running handlers finish; messages not started stay queued for the next consumer."""
        if self._stopped:
            return
        self._stopped = True
        for pump in self._pumps:
            pump.cancel()
        await self._dispatcher.drain(self._settings.drain_timeout)
        self._drained.set()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._bus.forget(self)


def _queue_names(shard_count: int) -> list[str]:
    return [*(shard_queue(index) for index in range(shard_count)), LIFECYCLE]
