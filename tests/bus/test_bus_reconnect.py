"""The RabbitMQ bus after its connection is lost: it connects again by itself, and each consumer
comes back exactly once, on the new connection, and gets the messages published meanwhile.

Connections are cut through a loopback proxy (tests/support/bus_proxy.py), or closed by the
broker through its management API (what a node shutting down in a rolling restart does to its
clients), never by restarting the shared broker.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import pytest
from broker import consumers_by_queue, live_connections, rabbit_api
from bus_harness import SHARDS, bus_settings, eventually
from bus_proxy import BrokerProxy

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.link import RECONNECTS, Backoff, BrokerLink, reconnect_delay
from calbridge.bus.names import LIFECYCLE, shard_queue
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider

WORK_QUEUES = [*(shard_queue(index) for index in range(SHARDS)), LIFECYCLE]


def test_reconnect_delay_doubles_from_the_first_is_capped_and_spread_between_half_and_all() -> None:
    backoff = Backoff(first=0.5, longest=8.0)
    assert [reconnect_delay(n, backoff, 0.999999) for n in (1, 2, 3, 4, 5, 6)] == pytest.approx(
        [0.5, 1.0, 2.0, 4.0, 8.0, 8.0], rel=1e-5
    )
    assert [reconnect_delay(n, backoff, 0.0) for n in (1, 2, 6, 500)] == [0.25, 0.5, 4.0, 4.0]
    rng = random.Random(7)
    drawn = {round(reconnect_delay(3, backoff, rng.random()), 3) for _ in range(50)}
    assert len(drawn) > 10, "processes that failed together come back apart"
    assert all(1.0 <= delay <= 2.0 for delay in drawn)


def change(calendar: str) -> ChangeEvent:
    return ChangeEvent(provider=Provider.GOOGLE, calendar=calendar, kind=ChangeKind.CHANGED)


def lifecycle(subscription: str) -> LifecycleEvent:
    return LifecycleEvent(
        provider=Provider.GRAPH,
        calendar="cal-life",
        kind=LifecycleKind.REAUTHORIZATION_REQUIRED,
        subscription=subscription,
    )


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[BrokerProxy]:
    broker = urlsplit(amqp_url)
    opened = BrokerProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await opened.start()
    try:
        yield opened
    finally:
        opened.restore()
        await opened.close()


def one_live_consumer_each(vhost: str, queues: list[str]) -> bool:
    """Every queue has consumers, all on connections open now (the management API has caught up)."""
    consumers, live = consumers_by_queue(vhost), live_connections(vhost)
    return all(consumers.get(queue) and set(consumers[queue]) <= live for queue in queues)


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(90)
async def test_given_consumers_when_the_connection_is_cut_and_restored_then_one_consumer_each_gets_the_rest(
    amqp_url: str, proxy: BrokerProxy
) -> None:
    vhost = amqp_url.rsplit("/", 1)[1]
    bus, publisher = AmqpBus(proxy.url_for(amqp_url), bus_settings()), AmqpBus(amqp_url, bus_settings())
    await bus.connect()
    await publisher.connect()
    changes: list[str] = []
    renewals: list[str] = []

    async def on_change(event: ChangeEvent) -> None:
        changes.append(event.calendar)

    async def on_lifecycle(event: LifecycleEvent) -> None:
        renewals.append(event.subscription)

    try:
        consumers = [await bus.consume_changes(on_change), await bus.consume_lifecycle(on_lifecycle)]
        await publisher.publish([change("before"), lifecycle("before")])
        await eventually(lambda: changes == ["before"] and renewals == ["before"], what="the first messages")

        # When the connection drops and the broker stays away through two reconnect attempts
        proxy.cut()
        await eventually(lambda: not any(c.consuming for c in consumers), within=10, what="consumers to stop")
        assert not await bus.ready()
        with pytest.raises(BusUnavailable):
            await bus.publish([change("refused")])
        await publisher.publish([change("during"), lifecycle("during")])
        refused = proxy.refused
        await eventually(lambda: proxy.refused >= refused + 2, within=20, what="two reconnect attempts")

        # Then once it is back, both consumers resume and get what was published meanwhile and after
        proxy.restore()
        await eventually(bus.ready, within=10, what="the bus to be ready again")
        await publisher.publish([change("after"), lifecycle("after")])
        await eventually(
            lambda: (
                set(changes) == {"before", "during", "after"}
                and set(renewals) == {"before", "during", "after"}
            ),
            within=10,
            what="the messages published during and after the outage",
        )
        assert all(c.consuming for c in consumers)

        # And the broker sees exactly one consumer on each queue
        await eventually(
            lambda: one_live_consumer_each(vhost, WORK_QUEUES), within=30, interval=0.5, what="the listing"
        )
        listed = consumers_by_queue(vhost)
        assert {queue: len(listed[queue]) for queue in WORK_QUEUES} == dict.fromkeys(WORK_QUEUES, 1)
    finally:
        await bus.close()
        await publisher.close()


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(90)
async def test_given_the_broker_closes_the_connection_then_the_bus_reconnects_and_consumes_again(
    amqp_url: str,
) -> None:
    # What a node does to its clients when it shuts down: connection.close with CONNECTION_FORCED
    vhost = amqp_url.rsplit("/", 1)[1]
    bus, publisher = AmqpBus(amqp_url, bus_settings()), AmqpBus(amqp_url, bus_settings())
    await bus.connect()
    seen: list[str] = []

    async def on_change(event: ChangeEvent) -> None:
        seen.append(event.calendar)

    try:
        consumer = await bus.consume_changes(on_change)
        await eventually(
            lambda: len(live_connections(vhost)) == 1, within=30, interval=0.5, what="the listing"
        )
        (name,) = live_connections(vhost)
        await publisher.connect()
        reconnects = RECONNECTS.labels("bus")._value.get()
        rabbit_api("DELETE", f"/connections/{quote(name, safe='')}")  # the broker closes it

        # The loss, the reconnect and the consumer's return can all happen between two polls:
        # wait for the reconnect to be counted, not for a moment without a consumer.
        await eventually(
            lambda: RECONNECTS.labels("bus")._value.get() > reconnects, within=10, what="the reconnect"
        )
        await eventually(lambda: consumer.consuming, within=10, what="the consumer to come back")
        await publisher.publish([change(f"cal-{n}") for n in range(20)])
        await eventually(lambda: len(set(seen)) == 20, within=10, what="every change after the close")
    finally:
        await bus.close()
        await publisher.close()


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
async def test_given_the_broker_away_when_the_bus_starts_then_it_connects_once_reachable(
    amqp_url: str, proxy: BrokerProxy
) -> None:
    proxy.cut()
    bus = AmqpBus(proxy.url_for(amqp_url), bus_settings())
    await bus.start()  # returns at once
    seen: list[str] = []

    async def on_change(event: ChangeEvent) -> None:
        seen.append(event.calendar)

    try:
        consumer = await bus.consume_changes(on_change)  # kept, to consume once connected
        await eventually(lambda: proxy.refused >= 2, within=20, what="two attempts to reach the broker")
        assert not await bus.ready() and not consumer.consuming
        with pytest.raises(BusUnavailable):
            await bus.publish([change("too-early")])

        proxy.restore()
        await eventually(bus.ready, within=10, what="the bus to connect")
        await bus.publish([change("on-time")])  # the topology was declared on connecting
        await eventually(lambda: seen == ["on-time"], within=10, what="the change")
    finally:
        await bus.close()


class Counting:
    """An attachment that counts how often it was attached and detached."""

    def __init__(self) -> None:
        self.attaches = 0
        self.detaches = 0
        self._on = False

    @property
    def attached(self) -> bool:
        return self._on

    async def attach(self, connection: object) -> None:
        self.attaches += 1
        self._on = True

    def detach(self) -> None:
        self.detaches += 1
        self._on = False


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
async def test_given_a_link_when_its_connection_drops_twice_then_it_attaches_once_per_connection(
    amqp_url: str, proxy: BrokerProxy
) -> None:
    link = BrokerLink(proxy.url_for(amqp_url), role="test", name="calbridge-test")
    attachment = Counting()
    await link.add(attachment)
    await link.connect()
    try:
        assert (attachment.attaches, link.ready) == (1, True)
        for round_ in (2, 3):
            proxy.cut()
            await eventually(lambda: not link.ready, within=10, what="the link to notice")
            assert not attachment.attached
            proxy.restore()
            await eventually(lambda: link.ready, within=10, what="the link to come back")
            assert attachment.attaches == round_, "attached once on each new connection"
    finally:
        await link.close()


class FailingFirst(Counting):
    """Its first attach fails, as a consumer's does when its queue's leader is still elected."""

    async def attach(self, connection: object) -> None:
        self.attaches += 1
        if self.attaches == 1:
            raise ConnectionError("not yet")
        self._on = True


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
async def test_given_an_attachment_that_fails_to_attach_then_the_link_is_not_ready_until_it_retried(
    amqp_url: str,
) -> None:
    link = BrokerLink(amqp_url, role="test", name="calbridge-test")
    await link.connect()
    try:
        attachment = FailingFirst()
        await link.add(attachment)
        assert not link.ready, "not ready while something is not attached"
        await eventually(lambda: link.ready, within=10, what="the link to attach it again")
        assert attachment.attaches == 2
    finally:
        await link.close()
