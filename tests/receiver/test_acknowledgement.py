"""Nothing is acknowledged before the bus confirms: bus failures and hangs become 503 in budget."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from receiver_fixtures import RecordingBus, fixed_clock, google_token, graph_state, make_settings

from calbridge.metrics import REGISTRY
from receiver import create_app
from receiver.app import RETRY_AFTER_SECONDS

GRAPH_BODY = orjson.dumps(
    {"value": [{"changeType": "updated", "clientState": graph_state("cal_2"), "resourceData": {"id": "e1"}}]}
)
GOOGLE_HEADERS = {
    "X-Goog-Channel-ID": "chan-1",
    "X-Goog-Channel-Token": google_token("cal_1", "chan-1"),
    "X-Goog-Resource-State": "exists",
    "X-Goog-Message-Number": "2",
}


async def post_google(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/notifications/google", headers=GOOGLE_HEADERS)


async def post_graph(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/notifications/graph", content=GRAPH_BODY, headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("post", [post_google, post_graph])
async def test_given_the_broker_refuses_then_503_with_retry_after_and_nothing_acknowledged(
    client: httpx.AsyncClient, bus: RecordingBus, post: object
) -> None:
    bus.fail = True
    response = await post(client)  # type: ignore[operator]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert bus.attempts == 1
    assert bus.published == []


@pytest.mark.parametrize("post", [post_google, post_graph])
async def test_given_the_broker_never_confirms_then_503_within_the_budget(
    client: httpx.AsyncClient, bus: RecordingBus, post: object
) -> None:
    bus.hang = True
    started = time.monotonic()
    response = await post(client)  # type: ignore[operator]
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert 0.4 <= elapsed < 1.5  # the budget in these tests is 0.5 s; Graph's limit is 3 s
    assert bus.published == []
    assert REGISTRY.get_sample_value("calbridge_receiver_publishes_in_flight") == 0


async def test_given_the_bus_itself_crashes_then_503_not_500(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    bus.crash = RuntimeError("channel closed unexpectedly")
    response = await post_graph(client)
    assert response.status_code == 503
    assert bus.published == []


async def test_given_the_broker_recovers_then_the_retried_notification_is_accepted(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    bus.fail = True
    assert (await post_graph(client)).status_code == 503
    bus.fail = False
    assert (await post_graph(client)).status_code == 202
    assert [e.calendar for e in bus.published] == ["cal_2"]


async def test_given_concurrent_requests_then_their_publishes_overlap_and_none_answers_early(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    bus.gate = asyncio.Event()
    requests = [asyncio.create_task(post_graph(client)) for _ in range(8)]
    async with asyncio.timeout(2):
        for _ in range(8):  # every request reaches the bus before any is confirmed
            await bus.entered.get()
    assert not any(task.done() for task in requests)
    bus.gate.set()
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [202] * 8
    assert bus.max_in_flight == 8
    assert len(bus.published) == 8


async def test_given_a_publish_confirmed_then_its_latency_is_observed(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    def confirmed() -> float:
        return (
            REGISTRY.get_sample_value("calbridge_receiver_publish_seconds_count", {"outcome": "confirmed"})
            or 0.0
        )

    before = confirmed()
    assert (await post_google(client)).status_code == 200
    assert confirmed() == before + 1


async def test_given_a_custom_budget_then_it_bounds_the_wait() -> None:
    bus = RecordingBus()
    bus.hang = True
    app = create_app(make_settings(ack_budget=0.1), bus, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
        started = time.monotonic()
        response = await post_google(client)
    assert response.status_code == 503
    assert time.monotonic() - started < 0.5
