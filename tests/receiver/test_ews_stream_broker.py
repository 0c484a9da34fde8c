"""The EWS listener when RabbitMQ is away: at its start, and again while it streams.

Given a listener whose bus reaches the broker through a proxy that is cut before the listener
starts (the EWS emulator and exchangelib are real); then it streams anyway, a change a person
makes while the broker is away is on the bus once the broker is reachable (as the change or a
catch-up hint for its calendar), and after a second cut and return a later change arrives as
itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bus_proxy import BrokerProxy
from ews_stream_support import BusReader, bus_settings, eventually, listener, ref_of, seed_pairs
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.amqp import AmqpBus
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]

ALICE = "alice@example.com"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world(minute_seconds=1.0)) as running:
        yield running


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    await seed_pairs(engine, [ALICE])
    yield engine
    await engine.dispose()


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


def create(ews: RunningEws, subject: str) -> str:
    made = ews.control.create_item(
        ALICE, subject=subject, start=START.isoformat(), end=(START + timedelta(hours=1)).isoformat()
    )
    return str(made["id"])


def streaming(ews: RunningEws) -> bool:
    return ews.in_loop(
        lambda: any(s.mailbox == ALICE and s.waiters for s in ews.world.subscriptions.values())
    )


async def test_given_the_broker_away_at_start_and_later_then_the_listener_streams_and_every_change_arrives(
    ews: RunningEws, engine: AsyncEngine, proxy: BrokerProxy, amqp_url: str
) -> None:
    proxy.cut()
    bus = AmqpBus(proxy.url_for(amqp_url), bus_settings())
    await bus.start()  # as `calbridge ews-listener` does: never fails for want of a broker
    listen, folders = listener(engine, bus, ews.ews_url)
    stop = asyncio.Event()
    task = asyncio.create_task(listen.run(stop))

    async def bus_away() -> bool:
        return not await bus.ready()

    try:
        async with BusReader(amqp_url) as reader:
            # Given a listener streaming while the broker has never been reachable for it
            await eventually(lambda: streaming(ews), what="alice streaming without a broker")
            create(ews, "Made while the broker was away")
            assert await bus_away()

            # When the broker becomes reachable, then the change is on the bus for her calendar
            proxy.restore()
            await eventually(
                lambda: len(reader.of(ref_of(ALICE))) >= 1, within=20, what="her calendar's hint"
            )

            # And after the broker goes away and returns once more, a later change arrives as itself
            proxy.cut()
            await eventually(bus_away, within=10, what="the bus to notice the cut")
            proxy.restore()
            await eventually(bus.ready, within=15, what="the bus to reconnect")
            later = create(ews, "Made after the broker came back")
            await eventually(
                lambda: later in {e.resource for e in reader.of(ref_of(ALICE), "ews-stream")},
                within=20,
                what="the change made after the second return",
            )
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        folders.close()
        await bus.close()
