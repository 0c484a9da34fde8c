"""Spreading the shard queues over the processor replicas that are alive.

Shard queues have a single active consumer, so if every replica consumed every shard the first
one would be active everywhere and the others would only stand by: adding replicas would add
nothing. Instead each replica consumes only the shards `assignment.shards_for` gives it for the
current members (`membership`). When the members change, a replica first starts consuming the
shards it gained (a single active consumer keeps the previous owner active until it lets go),
then stops those it lost: stopping drains the running passes before the channel closes, so one
calendar is never worked on by two replicas at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from calbridge.bus.base import Bus, ChangeHandler, Consumer
from calbridge.logs import get_logger
from processor.assignment import shards_for

__all__ = ["ShardSpreader"]

log = get_logger(__name__)


class ShardSpreader:
    def __init__(self, bus: Bus, handler: ChangeHandler, shards: Sequence[int], member: str) -> None:
        self._bus = bus
        self._handler = handler
        self._shards = tuple(shards)
        self._member = member
        self._consumers: dict[int, Consumer] = {}
        self._lock = asyncio.Lock()

    @property
    def owned(self) -> tuple[int, ...]:
        return tuple(sorted(self._consumers))

    async def rebalance(self, members: Collection[str]) -> None:
        async with self._lock:
            wanted = set(shards_for(self._member, self._shards, members))
            gained = sorted(wanted - set(self._consumers))
            lost = sorted(set(self._consumers) - wanted)
            for shard in gained:
                self._consumers[shard] = await self._bus.consume_changes(self._handler, [shard])
            await asyncio.gather(*(self._consumers.pop(shard).stop() for shard in lost))
            log.info("shards_assigned", shards=self.owned, members=len(members), gained=gained, lost=lost)

    async def stop(self) -> None:
        async with self._lock:
            await asyncio.gather(*(consumer.stop() for consumer in self._consumers.values()))
            self._consumers.clear()
