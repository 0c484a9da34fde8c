"""Spreading the shard queues over the processor replicas that are alive.

Shard queues have a single active consumer, so if every replica consumed every shard the first
one would be active everywhere and the others would only stand by: adding replicas would add
nothing. Instead each replica consumes only the shards `assignment.shards_for` gives it for the
current members (`membership`). When the members change, a replica first starts consuming the
shards it gained (a single active consumer keeps the previous owner active until it lets go),
then stops those it lost: stopping drains the running passes before the channel closes, so one
calendar is never worked on by two replicas at once.

Ownership is what is consumed, never just what was decided: a shard whose consumer could not be
started is not owned, and a consumer that reports itself dead is stopped and dropped.
`membership` calls `rebalance` on every heartbeat, so either is repaired on the next beat.
A RabbitMQ consumer whose connection drops is neither: the bus's link attaches it again on the
next connection (calbridge/bus/link.py), so the spreader never starts a second one for a shard
it still holds. `consuming` is what /readyz reports: every shard owned for the current members
has a consumer that receives deliveries now.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

from calbridge.bus.base import Bus, ChangeHandler, Consumer
from calbridge.logs import get_logger
from processor.assignment import shards_for

__all__ = ["ShardSpreader", "ShardsNotConsumed"]

log = get_logger(__name__)


class ShardsNotConsumed(Exception):
    """A rebalance could not start consuming some shards it should own; the next one retries."""

    def __init__(self, shards: Sequence[int]) -> None:
        super().__init__(f"no consumer for shards {list(shards)}")
        self.shards = tuple(shards)


def is_alive(consumer: Consumer) -> bool:
    """Whether the consumer will receive deliveries again by itself (those that cannot tell are
    trusted); one that will not is replaced."""
    return bool(getattr(consumer, "alive", True))


class ShardSpreader:
    def __init__(self, bus: Bus, handler: ChangeHandler, shards: Sequence[int], member: str) -> None:
        self._bus = bus
        self._handler = handler
        self._shards = tuple(shards)
        self._member = member
        self._consumers: dict[int, Consumer] = {}
        self._wanted: frozenset[int] | None = None  # what the last rebalance decided to own
        self._lock = asyncio.Lock()

    @property
    def owned(self) -> tuple[int, ...]:
        return tuple(sorted(self._consumers))

    @property
    def consuming(self) -> bool:
        """Every shard this replica should own has a consumer receiving deliveries now."""
        wanted = self._wanted
        return (
            wanted is not None
            and wanted <= self._consumers.keys()
            and all(self._consumers[shard].consuming for shard in wanted)
        )

    async def rebalance(self, members: Collection[str]) -> None:
        """Consume exactly the shards this replica owns for `members`: start the missing ones
        (also those whose consumer died), stop the lost ones. Raises ShardsNotConsumed when some
        could not be started; the others are consumed regardless."""
        async with self._lock:
            await self._drop_dead()
            wanted = set(shards_for(self._member, self._shards, members))
            self._wanted = frozenset(wanted)
            gained = sorted(wanted - set(self._consumers))
            lost = sorted(set(self._consumers) - wanted)
            failed: list[int] = []
            for shard in gained:
                try:
                    self._consumers[shard] = await self._bus.consume_changes(self._handler, [shard])
                except Exception as exc:  # the broker is away: the next beat tries again
                    failed.append(shard)
                    log.warning("shard_consume_failed", shard=shard, error=type(exc).__name__)
            await asyncio.gather(*(self._consumers.pop(shard).stop() for shard in lost))
            started = [shard for shard in gained if shard not in failed]
            if started or lost:
                log.info(
                    "shards_assigned", shards=self.owned, members=len(members), gained=started, lost=lost
                )
            if failed:
                raise ShardsNotConsumed(failed)

    async def _drop_dead(self) -> None:
        dead = [shard for shard, consumer in self._consumers.items() if not is_alive(consumer)]
        for shard in dead:
            log.warning("shard_consumer_lost", shard=shard)
            with contextlib.suppress(Exception):  # its channel is gone already
                await self._consumers.pop(shard).stop()

    async def stop(self) -> None:
        async with self._lock:
            await asyncio.gather(*(consumer.stop() for consumer in self._consumers.values()))
            self._consumers.clear()
