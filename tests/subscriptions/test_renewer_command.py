"""`calbridge renewer --once` as an operator runs it: stored connections (credentials sealed
in the store), the adapters' SDK clients, one pass."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from renewer_harness import ALICE, KEYS, World, keys_setting, world  # noqa: F401

from calbridge.events import ChangeKind, Provider
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.admin import add_pair, remove_pair
from calbridge.pairs.spec import CalendarSpec, PairSpec
from calbridge.pairs.states import PairState
from calbridge.providers.registry import Registry
from calbridge.secretbox import generate_key, open_secretbox
from calbridge.settings import load_settings
from calbridge.store.connection_records import save_connection
from calbridge.store.migrate import upgrade
from calbridge_app.sandbox_connections import sandbox_connections
from subscriptions.service import serve_renewer

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


async def test_given_a_pair_added_and_removed_with_the_pairs_library_then_one_pass_each_follows_it(
    world: World, tmp_path: Path
) -> None:
    settings = load_settings(
        amqp_url=world.settings.amqp_url,
        database_url=SecretStr(world.database_url),
        signing_keys=keys_setting(KEYS),
        public_url=world.receiver_url,
        secret_key=SecretStr(generate_key()),
    )
    box = open_secretbox(settings)
    found = sandbox_connections(world.sb.info.as_json(), "sandbox", tmp_path / "ca.pem")
    async with world.engine.begin() as conn:
        saved = [(await save_connection(conn, box, c))[0] for c in found]
    checker = RegistryAccessChecker(Registry(settings).open)
    spec = PairSpec(google=CalendarSpec(ALICE), microsoft=CalendarSpec(ALICE))
    try:
        added = await add_pair(world.engine, spec, saved, checker, world.bus)
    finally:
        await checker.aclose()
    assert added.pair.state == PairState.ACTIVE

    await serve_renewer(settings, once=True)

    assert len(world.live_channels()) == 1 and len(world.live_graph_subscriptions()) == 1
    assert len(await world.rows()) == 2

    await remove_pair(world.engine, added.pair.id)
    await serve_renewer(settings, once=True)

    assert world.live_channels() == [] and world.graph_world.subscriptions == {}
    assert await world.rows() == [] and await world.pair_ids() == []


async def test_given_the_running_renewer_then_it_serves_probes_and_handles_lifecycle_events(
    world: World, tmp_path: Path, unused_tcp_port: int
) -> None:
    settings = load_settings(
        amqp_url=world.settings.amqp_url,
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
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready)
            [subscription] = await wait_until(async_value(world.live_graph_subscriptions))
            metrics = (await client.get("/metrics")).text
            assert 'calbridge_subscriptions{provider="graph",state="active"} 1.0' in metrics
            assert "calbridge_subscription_expiry_seconds" in metrics

            async with world.graph_control() as graph:
                await graph.fire_lifecycle(subscription.id, "missed")
            await wait_until(async_value(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "missed")))
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await running


def async_value(condition: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def check() -> Any:
        return condition()

    return check


async def wait_until(condition: Callable[[], Awaitable[Any]], within: float = 15.0) -> Any:
    """Poll an async condition until it is truthy; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_given_the_renewer_process_when_sent_sigterm_then_it_stops_cleanly(
    amqp_url: str, sqlite_url: str, unused_tcp_port: int
) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    env = {
        **os.environ,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_DATABASE_URL": sqlite_url,
        "CALBRIDGE_SIGNING_KEYS": "k1:" + "a" * 32,
        "CALBRIDGE_PUBLIC_URL": "https://hooks.example.com",
        "CALBRIDGE_SECRET_KEY": generate_key(),
        "CALBRIDGE_RENEWER_HTTP_HOST": "127.0.0.1",
        "CALBRIDGE_RENEWER_HTTP_PORT": str(unused_tcp_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "calbridge_app", "renewer", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_tcp_port}", timeout=2) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, within=30)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, errors = await process.communicate()
        assert process.returncode == 0, errors.decode()[-2000:]
        assert b"renewer_stopped" in errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
