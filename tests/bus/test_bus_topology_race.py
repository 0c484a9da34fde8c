"""Declaring the topology when every service starts at once on a fresh vhost, after an
interrupted declaration, and against another shard count."""

from __future__ import annotations

import asyncio
import urllib.parse

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from broker import rabbit_api
from bus_harness import SHARDS, bus_settings, eventually

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, shard_queue
from calbridge.bus.topology import TOPOLOGY_LOCK, TopologyMismatch, declare_topology
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]

STARTING_AT_ONCE = 8


def vhost_of(url: str) -> str:
    return urllib.parse.quote(url.rsplit("/", 1)[1], safe="")


def bound_shards(url: str) -> list[str]:
    bindings = rabbit_api("GET", f"/exchanges/{vhost_of(url)}/{CHANGES}/bindings/source")
    return sorted(binding["destination"] for binding in bindings)  # type: ignore[union-attr]


def queue_names(url: str) -> set[str]:
    return {queue["name"] for queue in rabbit_api("GET", f"/queues/{vhost_of(url)}")}  # type: ignore[union-attr]


async def test_given_a_fresh_vhost_when_many_services_start_at_once_then_all_start_on_one_topology(
    amqp_url: str,
) -> None:
    # Given a fresh vhost; when as many buses as a small deployment has connect at the same moment
    buses = [AmqpBus(amqp_url, bus_settings()) for _ in range(STARTING_AT_ONCE)]
    outcomes = await asyncio.gather(*(bus.connect() for bus in buses), return_exceptions=True)
    try:
        # Then every one started (none took a half-declared topology for another shard count)
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        assert all([await bus.ready() for bus in buses])
        assert bound_shards(amqp_url) == sorted(shard_queue(i) for i in range(SHARDS))
        assert TOPOLOGY_LOCK not in queue_names(amqp_url), "the lock is let go"
        seen: list[str] = []

        async def record(event: ChangeEvent) -> None:
            seen.append(event.calendar)

        consumer = await buses[0].consume_changes(record)
        await buses[-1].publish(
            [
                ChangeEvent(provider=Provider.GOOGLE, calendar=f"c{n}", kind=ChangeKind.CHANGED)
                for n in range(10)
            ]
        )
        await eventually(lambda: len(seen) == 10, within=10, what="every change")
        await consumer.stop()
    finally:
        for bus in buses:
            await bus.close()


def shard_arguments(settings: Settings) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": "calbridge.dlx",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-single-active-consumer": True,
    }


async def test_given_another_process_half_way_through_declaring_then_a_starting_one_waits_and_starts(
    amqp_url: str,
) -> None:
    # Given a process that holds the lock and has declared only the first shard queue so far
    settings = bus_settings()
    other = await aio_pika.connect(amqp_url)
    try:
        channel = await other.channel()
        await channel.declare_queue(TOPOLOGY_LOCK, exclusive=True, auto_delete=True)
        await channel.declare_queue(shard_queue(0), durable=True, arguments=shard_arguments(settings))

        # When another service starts now, it does not take the half-declared topology for
        # another shard count: it waits for the lock
        starting = asyncio.create_task(declare_topology(amqp_url, settings))
        done, _ = await asyncio.wait([starting], timeout=1.0)
        assert not done, "it waits while the other process declares"

        # Then once the other process is through, it declares (a no-op) and starts
        await declare_rest(channel, settings)
        await channel.queue_delete(TOPOLOGY_LOCK)
        async with asyncio.timeout(20):
            await starting
    finally:
        await other.close()
    assert bound_shards(amqp_url) == sorted(shard_queue(i) for i in range(SHARDS))


async def declare_rest(channel: AbstractChannel, settings: Settings) -> None:
    """What the other process declares after the first shard: the rest of the shards, bound."""
    changes = await channel.declare_exchange(
        CHANGES, "x-consistent-hash", durable=True, arguments={"hash-header": CALENDAR_HEADER}
    )
    for index in range(SHARDS):
        queue = await channel.declare_queue(
            shard_queue(index), durable=True, arguments=shard_arguments(settings)
        )
        await queue.bind(changes, routing_key="20")


async def test_given_a_declaration_interrupted_half_way_then_the_next_one_completes_it(amqp_url: str) -> None:
    # Given the first shard queues of a declaration that died before its exchange was declared
    settings = bus_settings()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for index in range(SHARDS // 2):
            await channel.declare_queue(shard_queue(index), durable=True, arguments=shard_arguments(settings))
    finally:
        await connection.close()

    # When a service declares with the same count, then it completes the topology
    await declare_topology(amqp_url, settings)
    assert bound_shards(amqp_url) == sorted(shard_queue(i) for i in range(SHARDS))


@pytest.mark.parametrize("other_count", [SHARDS - 1, SHARDS + 2])
async def test_given_a_declared_topology_when_another_count_declares_then_one_line_names_both_counts(
    amqp_url: str, other_count: int
) -> None:
    await declare_topology(amqp_url, bus_settings())
    with pytest.raises(TopologyMismatch) as refused:
        await declare_topology(amqp_url, bus_settings(shard_count=other_count))
    message = str(refused.value)
    assert "\n" not in message
    assert f"has {SHARDS} shard queues" in message
    assert f"CALBRIDGE_SHARD_COUNT={other_count}" in message
    assert f"set CALBRIDGE_SHARD_COUNT={SHARDS}" in message, "it says what to do"
    assert bound_shards(amqp_url) == sorted(shard_queue(i) for i in range(SHARDS)), "nothing was changed"
