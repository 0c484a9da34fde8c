"""The processor on real RabbitMQ: retries through the delay queues, the DLQ after the limit, a
processor killed between its write and its ack, and two replicas sharing the shards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from processor_world import (
    PAIR,
    World,
    eventually,
    hint,
    meeting,
    migrated_store,
    open_world,
    processor_settings,
)
from sync_fakes import FakeCalendar

from calbridge.bus import DLQ, open_bus
from calbridge.bus.deadletter import ATTEMPTS_HEADER, ERROR_HEADER
from calbridge.errors import Throttled, TransientProviderError
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.model import Event
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from processor.service import Processor

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@pytest.fixture
async def world(tmp_path: Path, amqp_url: str) -> AsyncIterator[World]:
    world = await open_world(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", processor_settings(amqp_url))
    yield world
    await world.close()


async def dlq_messages(amqp_url: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, passive=True)
        found = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            found.append(message)
        return found  # unacked: back on the queue when the connection closes
    finally:
        await connection.close()


async def test_given_a_throttled_provider_then_the_hint_comes_back_through_a_delay_queue(
    world: World, amqp_url: str
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = Throttled(0.1)
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: world.consumer.passes >= 2, what="a second attempt after the delay")
    world.microsoft.write_error = None
    await eventually(lambda: len(world.mirrors()) == 1, what="the mirror")
    await consumer.stop()
    assert await dlq_messages(amqp_url) == []


async def test_given_failures_on_every_attempt_then_the_hint_is_in_calbridge_dlq_with_the_pair(
    world: World, amqp_url: str
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = TransientProviderError("502 bad gateway")
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: world.consumer.passes >= 4, what="every attempt")
    found: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        found[:] = await dlq_messages(amqp_url)
        return len(found) == 1

    await eventually(dead_lettered, what="the message in calbridge.dlq")
    await consumer.stop()
    headers = found[0].headers
    assert headers[ERROR_HEADER] == f"pair={PAIR} TransientProviderError: 502 bad gateway"
    assert headers[ATTEMPTS_HEADER] == 4


class KilledAfterWrite(FakeCalendar):
    """Dies (the task is cancelled, as when the pod is killed) right after its next create."""

    kill_next_create = True

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        written = await super().create(calendar, event, stamp)
        if self.kill_next_create:
            self.kill_next_create = False
            raise asyncio.CancelledError  # after the write, before the link, the cursor and the ack
        return written


async def test_given_a_processor_killed_between_write_and_ack_then_redelivery_makes_no_duplicate(
    world: World,
) -> None:
    killed = KilledAfterWrite(Provider.GRAPH, "m", world.microsoft.clock)
    world.microsoft = killed
    world.google.person_create(meeting())
    first = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: killed.writes == 1, what="the write of the killed processor")
    await first.stop()  # its channel closes: the unacknowledged hint goes back to the queue

    restarted = world.new_consumer()
    second = await world.bus.consume_changes(restarted)
    await eventually(lambda: restarted.passes == 1, what="the redelivered hint's pass")
    await second.stop()
    assert len(world.mirrors()) == 1
    assert killed.writes == 1, "the second pass found the mirror instead of writing another"


async def test_given_two_processors_on_one_vhost_then_the_shards_are_split_and_both_get_work(
    tmp_path: Path, amqp_url: str
) -> None:
    settings = processor_settings(amqp_url, shard_count=4)
    engine = await migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    bus_a, bus_b, publisher = open_bus(settings), open_bus(settings), open_bus(settings)
    for bus in (bus_a, bus_b, publisher):
        await bus.connect()

    async def no_providers(connection_id: str) -> FakeCalendar:
        raise AssertionError("no pair exists, so no provider is opened")

    one = Processor(settings, bus_a, engine, no_providers, member="one")
    two = Processor(settings, bus_b, engine, no_providers, member="two")
    await asyncio.gather(one.start(), two.start())
    try:
        await eventually(
            lambda: len(one.owned_shards) == 2 and len(two.owned_shards) == 2,
            what="an even split of the four shards",
        )
        assert sorted(one.owned_shards + two.owned_shards) == [0, 1, 2, 3]
        hints = [
            ChangeEvent(provider=Provider.GOOGLE, calendar=f"cal-{n}", kind=ChangeKind.CHANGED)
            for n in range(40)
        ]
        await publisher.publish(hints)
        await eventually(
            lambda: one.consumer.handled + two.consumer.handled == 40, what="every hint handled once"
        )
        assert one.consumer.handled > 0 and two.consumer.handled > 0

        await two.stop()  # leaves: its shards move to the one left
        await eventually(lambda: len(one.owned_shards) == 4, what="the survivor taking every shard")
        before = one.consumer.handled
        await publisher.publish(
            [hint.model_copy(update={"id": f"again-{n}"}) for n, hint in enumerate(hints)]
        )
        await eventually(lambda: one.consumer.handled - before == 40, what="the survivor handling everything")
    finally:
        await one.stop()
        await two.stop()
        for bus in (bus_a, bus_b, publisher):
            await bus.close()
        await engine.dispose()
