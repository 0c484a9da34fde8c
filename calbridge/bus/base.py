"""What every bus offers, whether RabbitMQ or in memory, and how handlers signal outcomes.

Handlers receive a decoded ChangeEvent (or LifecycleEvent). Returning means done: the message is
acknowledged. Raising `RetryLater` asks for another attempt after a delay; raising `BackOff` asks
for one after a provider's wait without counting an attempt (throttling is back-pressure, not
failure: it is bounded by time, `Settings.throttle_limit`); raising `Reject` sends the message to
the dead-letter queue at once; any other exception is retried on the configured schedule and
dead-lettered after the last attempt, with the error as its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from calbridge.errors import CalbridgeError
from calbridge.events import ChangeEvent, LifecycleEvent

__all__ = [
    "DLQ",
    "BackOff",
    "Bus",
    "ChangeHandler",
    "Consumer",
    "LifecycleHandler",
    "Reject",
    "RetryLater",
]

DLQ = "calbridge.dlq"

ChangeHandler = Callable[[ChangeEvent], Awaitable[None]]
LifecycleHandler = Callable[[LifecycleEvent], Awaitable[None]]


class RetryLater(CalbridgeError):
    """Try this message again later; `delay` overrides the schedule (e.g. a Retry-After)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class BackOff(RetryLater):
    """Try this message again after `delay` because a provider asked us to slow down. Not a
    failed attempt: the attempts of the retry schedule are kept for real failures, and the
    time since the first throttle bounds how long a message may keep backing off."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason, delay)


class Reject(CalbridgeError):
    """This message can never succeed as it is: dead-letter it now with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Consumer(Protocol):
    """A running consumer; `stop` lets in-flight handlers finish (graceful drain) before returning."""

    @property
    def consuming(self) -> bool:
        """Deliveries reach it now: False while its broker connection is away (it resumes by
        itself when the connection is back) and once stopped."""

    async def stop(self) -> None: ...


class Bus(Protocol):
    async def connect(self) -> None:
        """Open connections and declare the topology (idempotent); raise BusUnavailable if the
        broker cannot be reached now. After that, a lost connection is made again by the bus."""

    async def start(self) -> None:
        """Like `connect`, but never raises: if the broker cannot be reached now, keep trying in
        the background; until it is there, `ready()` is False and `publish` raises BusUnavailable."""

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """True when a publish could be confirmed now (for /readyz)."""

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        """Return once the broker has confirmed every message; raise BusUnavailable otherwise.

        Concurrent calls share the wait for confirms (pipelining). Change events are routed by
        calendar ref to a shard; lifecycle events to their own queue.
        """

    async def consume_changes(self, handler: ChangeHandler, shards: Sequence[int] | None = None) -> Consumer:
        """Consume change events from the given shards (all by default), one calendar in order."""

    async def consume_lifecycle(self, handler: LifecycleHandler) -> Consumer: ...
