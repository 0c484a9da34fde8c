"""The receiver comes up while the broker is down, and serves as soon as the broker is there.

Given a receiver started with RabbitMQ unreachable (its proxy cut before start-up); then it runs,
/healthz is 200, /readyz is 503, and a notification is answered 503 with Retry-After (nothing
acknowledged that no broker confirmed); when the broker becomes reachable, /readyz turns 200 and
the provider's retry is answered 2xx and lands on the bus exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from receiver_e2e import (
    ALICE,
    Stack,
    answered,
    eventually,
    google_deliveries,
    google_token,
    graph_state,
    open_stack,
    timed_event,
    watch,
)

from calbridge.events import ChangeKind
from receiver.app import RETRY_AFTER_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]


@pytest.fixture
async def stack(amqp_url: str) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, broker_away=True) as opened:
        yield opened


def graph_change(ref: str, event_id: str) -> bytes:
    item = {
        "subscriptionId": "sub-1",
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000Z",
        "changeType": "created",
        "resource": f"Users/u-1/Events/{event_id}",
        "tenantId": "t-1",
        "clientState": graph_state(ref),
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id},
    }
    return orjson.dumps({"value": [item]})


async def post_graph(stack: Stack, body: bytes) -> Any:
    return await stack.http.post(
        "/notifications/graph", content=body, headers={"Content-Type": "application/json"}
    )


async def test_given_the_broker_down_at_start_then_503_with_retry_after_until_it_is_reachable_then_202(
    stack: Stack,
) -> None:
    # Given a receiver that started while the broker was unreachable: it serves, but is not ready
    assert (await stack.http.get("/healthz")).status_code == 200
    assert await stack.not_ready()
    refused = stack.proxy.refused
    await eventually(lambda: stack.proxy.refused > refused, 10, "the receiver to try the broker again")

    # When a notification comes, it is answered 503 with Retry-After: the provider sends it again
    reply = await post_graph(stack, graph_change("cal_alice_m", "AAMk-1"))
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)

    # Then once the broker is reachable, the receiver connects by itself and takes it
    stack.proxy.restore()
    await eventually(stack.ready, 15, "/readyz to report 200 once the broker is reachable")
    reply = await post_graph(stack, graph_change("cal_alice_m", "AAMk-1"))
    assert reply.status_code == 202
    (event,) = await stack.consume_changes(1)
    assert (event.calendar, event.kind) == ("cal_alice_m", ChangeKind.CREATED)


async def test_given_the_broker_down_at_start_when_google_pushes_then_its_retry_lands_once_the_broker_is_up(
    stack: Stack,
) -> None:
    hub = stack.sandbox.google.hub
    hub.backoff, hub.attempts = 0.5, 6  # retries at +0.5, +1.5, +3.5, +7.5, +15.5 s
    alice_events = stack.sandbox.google_service(ALICE).events()
    await watch(stack, alice_events, "chan-ok", google_token("cal_alice", "chan-ok"))

    # Given a person's change while the receiver has never reached the broker: answered 503
    async with stack.sandbox.control() as control:
        await control.google.create_event(ALICE, timed_event("before the broker"))

    async def answered_503() -> bool:
        return answered(await google_deliveries(stack), "chan-ok", "exists", 503) >= 1

    await eventually(answered_503, 10, "Google's push to be answered 503")

    # When the broker becomes reachable, Google's own retry is accepted, and the change lands once
    stack.proxy.restore()

    async def answered_200() -> bool:
        return answered(await google_deliveries(stack), "chan-ok", "exists", 200) >= 1

    await eventually(answered_200, 20, "Google's retry to be answered 200")
    assert await stack.queued_changes() == 1
    (event,) = await stack.consume_changes(1)
    assert event.calendar == "cal_alice"
