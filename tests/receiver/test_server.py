"""The app behind a real uvicorn (httptools) on loopback: wire behaviour and graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from receiver_fixtures import RecordingBus, fixed_clock, graph_state, make_settings
from serving import Running, serve

from receiver import create_app

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
BODY = orjson.dumps({"value": [{"changeType": "created", "clientState": graph_state("cal_4")}]})


@pytest.fixture
async def running(bus: RecordingBus) -> AsyncIterator[Running]:
    async with serve(create_app(make_settings(ack_budget=2.0), bus, clock=fixed_clock)) as server:
        yield server


async def test_given_a_real_server_then_a_graph_batch_is_confirmed_and_answered_202(
    running: Running, bus: RecordingBus
) -> None:
    async with httpx.AsyncClient(base_url=running.url, timeout=5) as client:
        response = await client.post("/notifications/graph", content=BODY, headers=JSON)
        oversized = await client.post("/notifications/graph", content=b" " * 5000, headers=JSON)
        handshake = await client.post("/notifications/graph/lifecycle?validationToken=a%2Bb%20c")
    assert response.status_code == 202
    assert [e.calendar for e in bus.published] == ["cal_4"]
    assert oversized.status_code == 413
    assert (handshake.status_code, handshake.text) == (200, "a+b c")
    assert bus.connects == 1


async def test_given_shutdown_during_a_request_then_it_is_answered_after_its_confirm_and_the_bus_closes_last(
    running: Running, bus: RecordingBus
) -> None:
    bus.gate = asyncio.Event()
    async with httpx.AsyncClient(base_url=running.url, timeout=5) as client:
        request = asyncio.create_task(client.post("/notifications/graph", content=BODY, headers=JSON))
        async with asyncio.timeout(5):
            await bus.entered.get()  # the request waits for its confirm
        running.server.should_exit = True  # what SIGTERM does
        await asyncio.sleep(0)
        assert bus.closes == 0
        bus.gate.set()
        response = await request
    assert response.status_code == 202
    async with asyncio.timeout(10):
        await running.task
    assert bus.closes == 1
    assert [e.calendar for e in bus.published] == ["cal_4"]
