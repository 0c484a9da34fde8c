"""What only the RabbitMQ bus has: the declared topology, bounded confirms, surviving a broker restart."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from broker import drop_vhost
from bus_harness import SHARDS, bus_settings, eventually
from bus_proxy import BrokerProxy

from calbridge.bus import MemoryBus, open_bus
from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CHANGES, DLQ, LIFECYCLE, delay_queue, shard_queue
from calbridge.bus.topology import TopologyMismatch, declare_topology
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.metrics import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


def management(path: str) -> object:
    request = urllib.request.Request(
        f"http://127.0.0.1:15672/api{path}",
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def vhost_of(url: str) -> str:
    return urllib.parse.quote(url.rsplit("/", 1)[1], safe="")


def change(calendar: str, version: str = "1") -> ChangeEvent:
    return ChangeEvent(provider=Provider.GOOGLE, calendar=calendar, kind=ChangeKind.CHANGED, version=version)


async def test_given_topology_when_declared_twice_then_same_queues_with_safety_arguments(
    amqp_url: str,
) -> None:
    settings = bus_settings(delivery_limit=7)
    await declare_topology(amqp_url, settings)
    await declare_topology(amqp_url, settings)  # a no-op, not an error

    vhost = vhost_of(amqp_url)
    queues = {queue["name"]: queue["arguments"] for queue in management(f"/queues/{vhost}")}  # type: ignore[attr-defined]
    expected = {shard_queue(i) for i in range(SHARDS)} | {LIFECYCLE, DLQ}
    expected |= {delay_queue(target, d) for target in (CHANGES, LIFECYCLE) for d in settings.retry_delays}
    assert set(queues) == expected
    shard = queues[shard_queue(0)]
    assert shard["x-queue-type"] == "quorum"
    assert shard["x-single-active-consumer"] is True
    assert shard["x-delivery-limit"] == 7
    assert shard["x-dead-letter-exchange"] == "calbridge.dlx"
    assert shard["x-dead-letter-strategy"] == "at-least-once"
    assert shard["x-overflow"] == "reject-publish"
    delay = queues[delay_queue(CHANGES, 0.05)]
    assert delay["x-message-ttl"] == 50
    assert delay["x-dead-letter-exchange"] == CHANGES

    exchange = management(f"/exchanges/{vhost}/{CHANGES}")
    assert exchange["type"] == "x-consistent-hash"  # type: ignore[index]
    assert exchange["arguments"] == {"hash-header": "x-calbridge-calendar"}  # type: ignore[index]
    bindings = management(f"/exchanges/{vhost}/{CHANGES}/bindings/source")
    assert sorted(binding["destination"] for binding in bindings) == sorted(  # type: ignore[attr-defined]
        shard_queue(i) for i in range(SHARDS)
    )


@pytest.mark.parametrize("other_count", [SHARDS - 1, SHARDS + 2])
async def test_given_declared_shards_when_declared_with_another_count_then_refused(
    amqp_url: str, other_count: int
) -> None:
    await declare_topology(amqp_url, bus_settings())
    with pytest.raises(TopologyMismatch, match="CALBRIDGE_SHARD_COUNT"):
        await declare_topology(amqp_url, bus_settings(shard_count=other_count))


async def test_given_declared_queues_when_delivery_limit_changes_then_refused_clearly(amqp_url: str) -> None:
    await declare_topology(amqp_url, bus_settings(delivery_limit=5))
    with pytest.raises(TopologyMismatch, match="other arguments"):
        await declare_topology(amqp_url, bus_settings(delivery_limit=6))


async def test_given_hung_broker_when_publishing_then_bus_unavailable_within_timeout(amqp_url: str) -> None:
    # Given a bus that reaches the broker through a proxy we can stall
    proxy = BrokerProxy("127.0.0.1", 5672)
    await proxy.start()
    proxied = amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    bus = AmqpBus(proxied, bus_settings(publish_timeout=0.3))
    await bus.connect()
    try:
        await bus.publish([change("cal-1")])

        # When the broker stops answering, a publish fails within the timeout instead of hanging
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(BusUnavailable, match="did not confirm"):
            await bus.publish([change("cal-1"), change("cal-2")])
        assert time.monotonic() - started < 2

        # Then once it answers again, publishing works again
        proxy.resume()
        await bus.publish([change("cal-3")])
    finally:
        proxy.resume()
        await bus.close()
        await proxy.close()


async def test_given_published_messages_then_confirm_latency_and_outcomes_are_counted(amqp_url: str) -> None:
    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    confirms = sample("calbridge_bus_publish_seconds_count")
    acks = sample("calbridge_bus_messages_total", {"outcome": "ack"})
    bus = AmqpBus(amqp_url, bus_settings())
    await bus.connect()
    handled: list[ChangeEvent] = []

    async def handle(event: ChangeEvent) -> None:
        handled.append(event)

    consumer = await bus.consume_changes(handle)
    await bus.publish([change("cal-m")])
    await eventually(lambda: len(handled) == 1, what="the message")
    await eventually(lambda: sample("calbridge_bus_messages_total", {"outcome": "ack"}) == acks + 1)
    assert sample("calbridge_bus_publish_seconds_count") == confirms + 1
    assert sample("calbridge_bus_publishes_in_flight") == 0
    await consumer.stop()
    await bus.close()


def test_open_bus_without_amqp_url_gives_the_memory_bus_and_with_one_rabbitmq() -> None:
    assert isinstance(open_bus(bus_settings()), MemoryBus)
    assert isinstance(open_bus(bus_settings(amqp_url="amqp://guest:guest@127.0.0.1:5672/x")), AmqpBus)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=90, capture_output=True)


def dead_letter_supervisor_alive() -> bool:
    found = subprocess.run(
        ["rabbitmqctl", "-q", "eval", "whereis(rabbit_fifo_dlx_sup)."],
        capture_output=True,
        text=True,
        timeout=90,
    )
    return found.stdout.strip() != "undefined"


def queues_running(vhost: str) -> bool:
    """Every queue of the vhost has started again (rabbitmqctl asks the queues themselves; the
    management API's states lag by a statistics interval)."""
    found = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "state", "--formatter", "json"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    if found.returncode != 0:
        return False
    listed = json.loads(found.stdout or "[]")
    return bool(listed) and all(queue.get("state") == "running" for queue in listed)


async def leave_broker_healthy(vhost: str) -> None:
    """The broker is shared by every test after this one. RabbitMQ 3.10 can lose the supervisor
    of quorum queues' dead-letter workers when a vhost is deleted while its queues still
    restart, and then no queue with dead-lettering can be declared: wait for the queues, drop
    the vhost, and restart the application once more should it have happened anyway."""
    name = urllib.parse.unquote(vhost)
    await eventually(
        lambda: queues_running(name), within=60, interval=0.5, what="the vhost's queues to run again"
    )
    drop_vhost(name)
    if not await asyncio.to_thread(dead_letter_supervisor_alive):
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        await asyncio.to_thread(rabbitmqctl, "start_app")
        await asyncio.to_thread(rabbitmqctl, "await_startup")
        assert await asyncio.to_thread(dead_letter_supervisor_alive), "RabbitMQ's dead-letter supervisor"


def may_restart_broker() -> bool:
    """rabbitmqctl is here and may control the node (it needs the node's cookie, usually root)."""
    if shutil.which("rabbitmqctl") is None:
        return False
    try:
        rabbitmqctl("status")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


async def test_given_confirmed_change_when_broker_restarts_then_it_is_still_delivered(amqp_url: str) -> None:
    if not await asyncio.to_thread(may_restart_broker):
        pytest.skip("needs rabbitmqctl with control of the local node")
    # Given a change event the broker confirmed
    bus = AmqpBus(amqp_url, bus_settings())
    await bus.connect()
    try:
        await bus.publish([change("cal-durable", "before")])

        # When the broker application restarts (once, briefly: the broker is shared)
        try:
            await asyncio.to_thread(rabbitmqctl, "stop_app")
        finally:
            await asyncio.to_thread(rabbitmqctl, "start_app")
            await asyncio.to_thread(rabbitmqctl, "await_startup")

        # Then the same bus reconnects by itself and publishes again, and both events are delivered
        await eventually(bus.ready, within=30, what="the bus to reconnect")
        await _publish_when_queues_are_back(bus, change("cal-durable", "after"))
        seen: list[str] = []

        async def record(event: ChangeEvent) -> None:
            seen.append(event.version or "")

        consumer = await bus.consume_changes(record)
        await eventually(lambda: len(seen) == 2, within=20, what="both events")
        assert seen == ["before", "after"]
        await consumer.stop()
    finally:
        await bus.close()
        await leave_broker_healthy(vhost_of(amqp_url))


async def _publish_when_queues_are_back(bus: AmqpBus, event: ChangeEvent) -> None:
    """Quorum queues elect their leader a moment after the node starts; until then publishes fail."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await bus.publish([event])
            return
        except BusUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_given_message_that_crashes_its_consumer_when_limit_reached_then_broker_dead_letters_it(
    amqp_url: str,
) -> None:
    # Given a delivery limit of 2 and a consumer process that dies with the message unacknowledged
    bus = AmqpBus(amqp_url, bus_settings(delivery_limit=2))
    await bus.connect()
    await bus.publish([change("cal-crash")])
    connection = await aio_pika.connect(amqp_url)
    try:
        for _ in range(3):  # the first delivery and two redeliveries
            delivered = asyncio.Event()

            async def crash(message: AbstractIncomingMessage, delivered: asyncio.Event = delivered) -> None:
                delivered.set()  # and never ack: closing the channel below is the crash

            channel = await connection.channel()
            for index in range(SHARDS):
                await (await channel.get_queue(shard_queue(index), ensure=False)).consume(crash)
            await asyncio.wait_for(delivered.wait(), 5)
            await channel.close()

        # Then RabbitMQ moves it to calbridge.dlq instead of a fourth delivery, saying why
        dead = await (await connection.channel()).get_queue(DLQ)
        letters: list[AbstractIncomingMessage] = []

        async def poll() -> bool:
            letter = await dead.get(fail=False)
            if letter is not None:
                letters.append(letter)
            return bool(letters)

        await eventually(poll, within=5, what="the dead letter")
        assert letters[0].headers["x-first-death-reason"] == "delivery_limit"
        assert letters[0].headers["x-calbridge-calendar"] == "cal-crash"
    finally:
        await connection.close()
        await bus.close()
