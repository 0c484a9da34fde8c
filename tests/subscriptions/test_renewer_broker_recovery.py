"""The running renewer when its broker connection drops and returns.

Given the renewer process (`serve_renewer`) reaching RabbitMQ through a proxy that is cut and
restored; then /readyz is 503 while the broker is away and 200 again after, and a Graph lifecycle
notification sent after the return goes sandbox -> receiver -> RabbitMQ -> the renewer's
lifecycle consumer and comes out as the RESYNC hint the renewer publishes. And its /readyz is
503 whenever the lifecycle consumer is not consuming.
"""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from bus_proxy import BrokerProxy
from polling import eventually
from pydantic import SecretStr
from renewer_harness import KEYS, World, keys_setting, world  # noqa: F401

from calbridge.bus import MemoryBus
from calbridge.events import ChangeKind, Provider
from calbridge.secretbox import generate_key, open_secretbox
from calbridge.settings import load_settings
from calbridge.store.connection_records import save_connection
from calbridge_app.sandbox_connections import sandbox_connections
from subscriptions.probes import Health, create_probe_app
from subscriptions.service import serve_renewer


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


@pytest.mark.integration
@pytest.mark.rabbitmq
@pytest.mark.timeout(90)
async def test_given_the_running_renewer_when_its_broker_connection_drops_and_returns_then_it_consumes_again(
    world: World, proxy: BrokerProxy, amqp_url: str, tmp_path: Path, unused_tcp_port: int
) -> None:
    settings = load_settings(
        amqp_url=SecretStr(proxy.url_for(amqp_url)),
        database_url=SecretStr(world.database_url),
        signing_keys=keys_setting(KEYS),
        public_url=world.receiver_url,
        secret_key=SecretStr(generate_key()),
        renewer_http_host="127.0.0.1",
        renewer_http_port=unused_tcp_port,
        renewer_interval=0.2,
    )
    box = open_secretbox(settings)
    found = sandbox_connections(world.sb.info.as_json(), "sandbox", tmp_path / "ca.pem")
    async with world.engine.begin() as conn:
        saved = {c.provider: (await save_connection(conn, box, c))[0].id for c in found}
    await world.add_pair(
        "p1", "g_alice", "m_alice", direction="microsoft-to-google",
        google_connection=saved[Provider.GOOGLE], graph_connection=saved[Provider.GRAPH],
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(serve_renewer(settings, stop=stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_tcp_port}", timeout=5) as client:

            async def readyz() -> int:
                try:
                    return (await client.get("/readyz")).status_code
                except httpx.TransportError:
                    return 0

            async def ready() -> bool:
                return await readyz() == 200

            async def not_ready() -> bool:
                return await readyz() == 503

            await eventually(ready, within=20, what="the renewer to be ready")
            await eventually(
                lambda: len(world.live_graph_subscriptions()) == 1, within=15, what="a subscription"
            )
            [subscription] = world.live_graph_subscriptions()

            # When its broker connection drops, it is not ready, through its reconnect attempts
            proxy.cut()
            await eventually(not_ready, within=10, what="/readyz to say 503 while the broker is away")
            refused = proxy.refused
            await eventually(lambda: proxy.refused >= refused + 2, within=20, what="two reconnect attempts")
            assert await not_ready()

            # Then once it is back, it is ready again and handles a lifecycle notification
            proxy.restore()
            await eventually(ready, within=15, what="/readyz to say 200 again")
            async with world.graph_control() as graph:
                await graph.fire_lifecycle(subscription.id, "missed")
            await eventually(
                lambda: bool(world.tap.of("m_alice", ChangeKind.RESYNC, "missed")),
                within=10,
                what="the renewer's RESYNC hint for the missed notifications",
            )
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await running


async def test_given_a_lifecycle_consumer_not_consuming_then_the_renewer_is_not_ready() -> None:
    bus = MemoryBus(load_settings(amqp_url=None))
    await bus.connect()
    health = Health(interval=60)
    health.record(True)
    consuming = [False]
    app = create_probe_app(health, bus, lambda: consuming[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://renewer") as client:
        assert (await client.get("/readyz")).status_code == 503, "its broker connection is away"
        consuming[0] = True
        assert (await client.get("/readyz")).status_code == 200
    await bus.close()
