"""A replica consumes every shard it owns again after the broker was away: a rebalance that could
not start a consumer, or a consumer that reports itself dead, is repaired on the next check; a
RabbitMQ consumer whose channel closed is attached again by the bus itself; and hints published
after that are handled."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from polling import eventually
from processor_world import processor_settings

from calbridge.bus import MemoryBus, open_bus
from calbridge.bus.amqp_consumer import AmqpConsumer
from calbridge.bus.base import ChangeHandler, Consumer
from calbridge.bus.memory import MemoryConsumer
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, Provider
from processor.membership import Membership
from processor.spread import ShardsNotConsumed, ShardSpreader

SHARDS = range(2)


class FlakyBus(MemoryBus):
    """A memory bus whose next `failures` consumer starts fail, as during a broker restart; the
    consumers it started can be made to lose their channel."""

    def __init__(self, failures: int) -> None:
        super().__init__(processor_settings(shard_count=len(SHARDS)))
        self.failures = failures
        self.started: list[MemoryConsumer] = []

    async def consume_changes(
        self, handler: ChangeHandler, shards: Sequence[int] | None = None
    ) -> MemoryConsumer:
        if self.failures:
            self.failures -= 1
            raise BusUnavailable("the broker is restarting")
        consumer = await super().consume_changes(handler, shards)
        self.started.append(consumer)
        return consumer


def hints(count: int, tag: str) -> list[ChangeEvent]:
    return [
        ChangeEvent(provider=Provider.GOOGLE, calendar=f"{tag}-{n}", kind=ChangeKind.CHANGED)
        for n in range(count)
    ]


async def test_given_a_failed_rebalance_when_the_next_check_runs_then_every_owned_shard_is_consumed() -> None:
    bus = FlakyBus(failures=1)
    await bus.connect()
    handled: set[str] = set()

    async def handler(event: ChangeEvent) -> None:
        handled.add(event.calendar)

    spreader = ShardSpreader(bus, handler, SHARDS, "only")
    try:
        with pytest.raises(ShardsNotConsumed):
            await spreader.rebalance({"only"})
        assert len(spreader.owned) == 1, "a shard without a consumer is not owned"

        await spreader.rebalance({"only"})  # the next heartbeat, the broker back
        assert sorted(spreader.owned) == [0, 1]
        sent = hints(20, "after")
        await bus.publish(sent)
        await eventually(lambda: handled == {hint.calendar for hint in sent}, what="every hint handled")
    finally:
        await spreader.stop()
        await bus.close()


class Lost:
    """A consumer whose channel died and was not restored: it gets nothing any more."""

    def __init__(self, inner: Consumer) -> None:
        self.inner = inner
        self.alive = False
        self.consuming = False

    async def stop(self) -> None:
        await self.inner.stop()


async def test_given_a_consumer_lost_with_its_channel_when_the_next_check_runs_then_it_is_replaced() -> None:
    bus = FlakyBus(failures=0)
    await bus.connect()
    handled: set[str] = set()

    async def handler(event: ChangeEvent) -> None:
        handled.add(event.calendar)

    spreader = ShardSpreader(bus, handler, SHARDS, "only")
    try:
        await spreader.rebalance({"only"})
        # given: the broker restarted and shard 0's consumer did not come back
        spreader._consumers[0] = Lost(spreader._consumers[0])
        await spreader.rebalance({"only"})
        assert sorted(spreader.owned) == [0, 1]
        assert not isinstance(spreader._consumers[0], Lost), "the lost consumer was replaced"
        sent = hints(20, "after")
        await bus.publish(sent)
        await eventually(lambda: handled == {hint.calendar for hint in sent}, what="every hint handled")
    finally:
        await spreader.stop()
        await bus.close()


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_given_a_failed_rebalance_when_the_members_stay_the_same_then_it_is_retried_on_a_beat(
    amqp_url: str,
) -> None:
    calls: list[frozenset[str]] = []

    async def rebalance(members: frozenset[str]) -> None:
        calls.append(members)
        if len(calls) == 1:
            raise ShardsNotConsumed([4, 5, 6, 7])

    membership = Membership(amqp_url, "only", 0.05, rebalance)
    await membership.start()  # the first assignment fails; start still returns
    try:
        await eventually(lambda: len(calls) >= 2, within=5, what="the rebalance retried")
        assert calls[1] == frozenset({"only"}), "retried with the same members"
    finally:
        await membership.stop()


@pytest.mark.integration
@pytest.mark.rabbitmq
async def test_given_a_shard_channel_closed_under_a_live_connection_then_it_comes_back_and_hints_flow_again(
    amqp_url: str,
) -> None:
    settings = processor_settings(amqp_url, shard_count=len(SHARDS))
    bus, publisher = open_bus(settings), open_bus(settings)
    await bus.connect()
    await publisher.connect()
    handled: set[str] = set()

    async def handler(event: ChangeEvent) -> None:
        handled.add(event.calendar)

    spreader = ShardSpreader(bus, handler, SHARDS, "only")
    try:
        await spreader.rebalance({"only"})
        assert spreader.consuming
        # given: shard 0's channel is closed under a live connection (as the broker may)
        broken = spreader._consumers[0]
        assert isinstance(broken, AmqpConsumer)
        await broken._channel.close()  # type: ignore[union-attr]
        assert not spreader.consuming, "not ready while a shard it owns has no consumer"

        # then the bus's link attaches it again by itself, the same consumer, no second one
        await eventually(lambda: spreader.consuming, within=10, what="shard 0 consumed again")
        assert spreader._consumers[0] is broken
        sent = hints(20, "after")
        await publisher.publish(sent)
        await eventually(lambda: handled == {hint.calendar for hint in sent}, what="every hint handled")
    finally:
        await spreader.stop()
        await publisher.close()
        await bus.close()
