"""End to end when the broker goes away and comes back: the processor's AMQP connection is cut
through a TCP proxy (the receiver keeps its own) for five seconds, through several of the
processor's attempts to reconnect, then restored.

Given Alice's paired calendars and a processor sharing the shards through membership as
`calbridge processor` does; when its broker connection drops and returns; then `/readyz` is 503
while it is away, a change made after the return reaches the other side within 10 s, and every
shard queue has exactly one consumer again (the broker's management API says so).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from broker import consumers_by_queue, live_connections
from bus_proxy import BrokerProxy
from processor_e2e import SHARDS, Stack, eventually, open_stack, titled
from test_processor_e2e_sync import google_timed

from calbridge.bus.names import shard_queue
from calbridge.probes import build_probe_app

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(120)]

OUTAGE = 5.0  # seconds the broker stays away, as in the reproduction


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[BrokerProxy]:
    broker = urlsplit(amqp_url)
    opened = BrokerProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await opened.start()
    try:
        yield opened
    finally:
        opened.restore()  # let everything close cleanly whatever the test did
        await opened.close()


@pytest.fixture
async def stack(amqp_url: str, proxy: BrokerProxy, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(
        amqp_url,
        tmp_path,
        processor_url=proxy.url_for(amqp_url),
        spread=True,
        processor_heartbeat=0.3,
    ) as opened:
        yield opened


async def arrived_in_outlook(stack: Stack, title: str) -> bool:
    return len(titled(await stack.outlook_events(), title)) == 1


async def test_given_the_broker_connection_cut_for_seconds_then_work_resumes_with_one_consumer_per_shard(
    stack: Stack, proxy: BrokerProxy, amqp_url: str
) -> None:
    vhost = amqp_url.rsplit("/", 1)[1]
    probes = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_probe_app(stack.processor.readiness)), base_url="http://probe"
    )

    async def ready() -> bool:
        return (await probes.get("/readyz")).status_code == 200

    async def not_ready() -> bool:
        return (await probes.get("/readyz")).status_code == 503

    async with probes:
        # Given a processor that syncs
        await eventually(ready, within=20, what="the processor to be ready")
        await stack.google_create(
            google_timed("before the cut", "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z")
        )
        await eventually(
            lambda: arrived_in_outlook(stack, "before the cut"), within=30, what="the first event"
        )

        # When its broker connection is cut, and stays away for OUTAGE seconds, through several
        # of the processor's attempts to reconnect
        proxy.cut()
        cut_at = time.monotonic()
        await eventually(not_ready, within=10, what="/readyz to say 503 while disconnected")
        refused = proxy.refused

        def outage_over() -> bool:
            return time.monotonic() - cut_at >= OUTAGE and proxy.refused >= refused + 2

        await eventually(
            outage_over, within=OUTAGE + 30, interval=0.1, what="the outage with reconnect attempts"
        )
        assert await not_ready(), "not ready while the broker is away"

        # Then, once the broker is back, a change made afterwards arrives within 10 s
        proxy.restore()
        await stack.google_create(
            google_timed("after the cut", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z")
        )
        await eventually(
            lambda: arrived_in_outlook(stack, "after the cut"), within=10, what="the change after the return"
        )
        await eventually(ready, within=10, what="/readyz to say 200 again")

        # And the broker sees exactly one consumer on each shard queue, from a live connection
        shards = [shard_queue(index) for index in range(SHARDS)]

        def settled() -> bool:
            consumers, live = consumers_by_queue(vhost), live_connections(vhost)
            return all(
                consumers.get(shard) and all(connection in live for connection in consumers[shard])
                for shard in shards
            )

        await eventually(
            settled, within=30, interval=0.5, what="the management API to list the new consumers"
        )
        consumers = consumers_by_queue(vhost)
        assert {shard: len(consumers[shard]) for shard in shards} == dict.fromkeys(shards, 1)
