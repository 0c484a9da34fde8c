"""Microsoft Graph end to end: subscriptions made with msgraph-sdk against the sandbox, the
emulator's notifications -> the receiver -> RabbitMQ.

The subscription create only succeeds if the receiver answers Graph's validation handshake on
both URLs; a person's edits then reach the bus as created/updated/deleted change events of the
calendar the clientState names, exactly once; clientStates signed by anyone else never do; and a
broker outage is covered by Graph's own retry of the 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from receiver_e2e import (
    ALICE,
    ROGUE_KEYS,
    Stack,
    eventually,
    graph_client,
    graph_control,
    graph_event,
    graph_notifications,
    graph_state,
    graph_world,
    open_stack,
    subscribe,
    tampered,
)

from calbridge.bus.names import LIFECYCLE
from calbridge.events import ChangeKind, LifecycleKind, Provider

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

ROUTE = "/notifications/graph"
LIFECYCLE_ROUTE = "/notifications/graph/lifecycle"


@pytest.fixture
async def stack(amqp_url: str) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url) as opened:
        yield opened


@pytest.fixture
async def graph(stack: Stack) -> AsyncIterator[Any]:
    async with graph_client(stack) as client:
        yield client


async def settled(stack: Stack, delivered: int, failed: int = 0, within: float = 10.0) -> None:
    """Wait until the emulator got a 2xx for `delivered` items and gave up on `failed` items."""

    async def done() -> bool:
        counts = await graph_notifications(stack)
        return counts["delivered"] >= delivered and counts["failed"] >= failed

    await eventually(done, within, f"Graph to deliver {delivered} and give up on {failed} notifications")


async def test_given_a_subscription_made_with_msgraph_when_a_person_edits_then_the_bus_gets_each_change_once(
    stack: Stack, graph: Any
) -> None:
    before = await stack.metrics()

    # Given a subscription whose create succeeded only because the receiver echoed the handshake
    subscription = await subscribe(graph, stack, graph_state("cal_alice_m"), lifecycle=True)
    assert subscription.id
    validated = (await stack.metrics()).notifications("graph", "validation")
    assert validated - before.notifications("graph", "validation") == 2  # notification + lifecycle URL

    # When a person creates, edits and deletes an event in Alice's calendar
    async with graph_control(stack) as control:
        created = await control.create_event(ALICE, graph_event("planning"))
        await control.update_event(ALICE, created["id"], {"subject": "planning (moved)"})
        await control.delete_event(ALICE, created["id"])
    await settled(stack, delivered=3)

    # Then the broker holds exactly three change events, in order, for the subscribed calendar
    assert await stack.queued_changes() == 3
    events = await stack.consume_changes(3)
    assert [(e.provider, e.calendar, e.kind) for e in events] == [
        (Provider.GRAPH, "cal_alice_m", ChangeKind.CREATED),
        (Provider.GRAPH, "cal_alice_m", ChangeKind.UPDATED),
        (Provider.GRAPH, "cal_alice_m", ChangeKind.DELETED),
    ]
    assert len({e.resource for e in events}) == 1 and events[0].resource
    after = await stack.metrics()
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == 3


async def test_given_a_lifecycle_url_when_graph_asks_for_reauthorization_then_the_renewer_queue_gets_it_once(
    stack: Stack, graph: Any
) -> None:
    subscription = await subscribe(graph, stack, graph_state("cal_alice_m"), lifecycle=True)
    before = await stack.metrics()

    # When Graph sends reauthorizationRequired to the subscription's lifecycle URL
    async with graph_control(stack) as control:
        await control.fire_lifecycle(subscription.id, "reauthorizationRequired")

    async def answered() -> bool:
        return (await stack.metrics()).responses(LIFECYCLE_ROUTE, 202) > before.responses(
            LIFECYCLE_ROUTE, 202
        )

    await eventually(answered, 10, "the receiver to accept the lifecycle notification")

    # Then one lifecycle event naming the subscription waits for the renewer, and no change event
    assert await stack.queued(LIFECYCLE) == 1
    assert await stack.queued_changes() == 0
    (event,) = await stack.consume_lifecycle(1)
    assert (event.calendar, event.kind, event.subscription) == (
        "cal_alice_m",
        LifecycleKind.REAUTHORIZATION_REQUIRED,
        subscription.id,
    )


async def test_given_subscriptions_with_forged_or_tampered_client_state_then_their_items_never_reach_the_bus(
    stack: Stack, graph: Any
) -> None:
    graph_world(stack).notification_retry_delays = (0.05, 0.1)  # three attempts, quickly
    before = await stack.metrics()
    genuine = await subscribe(graph, stack, graph_state("cal_alice_m"))
    await subscribe(graph, stack, graph_state("cal_alice_m", ROGUE_KEYS))  # a key we never issued
    await subscribe(graph, stack, tampered(graph_state("cal_alice_m")))  # ref changed after signing

    # When a person creates an event: Graph batches the three items in one POST
    async with graph_control(stack) as control:
        await control.create_event(ALICE, graph_event("one"))
        await settled(stack, delivered=3)
        # The forged items were dropped from a batch answered 202. Now without the genuine
        # subscription: a batch of forged items only, refused 403 on every attempt
        await control.remove_subscription(genuine.id)
        await control.create_event(ALICE, graph_event("two"))
    await settled(stack, delivered=3, failed=2)

    # Then only the genuine item ever reached the bus
    assert await stack.queued_changes() == 1
    (event,) = await stack.consume_changes(1)
    assert (event.calendar, event.kind) == ("cal_alice_m", ChangeKind.CREATED)
    after = await stack.metrics()
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == 1
    assert after.notifications("graph", "forged") - before.notifications("graph", "forged") == 2 + 2 * 3
    assert after.responses(ROUTE, 403) - before.responses(ROUTE, 403) == 3


async def test_given_the_broker_is_cut_off_when_graph_notifies_then_503_and_its_retry_lands_exactly_once(
    stack: Stack, graph: Any
) -> None:
    graph_world(stack).notification_retry_delays = (0.5, 1.0, 2.0, 4.0)
    await subscribe(graph, stack, graph_state("cal_alice_m"))
    before = await stack.metrics()

    # Given the link to the broker is cut: the receiver says it is not ready
    stack.proxy.cut()
    await eventually(stack.not_ready, 5, "/readyz to report 503")

    # When a person creates an event, Graph's POST is answered 503 (nothing confirmed)
    async with graph_control(stack) as control:
        await control.create_event(ALICE, graph_event("during the outage"))

    async def refused() -> bool:
        return (await stack.metrics()).responses(ROUTE, 503) > before.responses(ROUTE, 503)

    await eventually(refused, 10, "the receiver to answer 503")
    assert await stack.queued_changes() == 0

    # Then, once the broker is back, Graph's retry is accepted and the change lands once
    stack.proxy.restore()
    await settled(stack, delivered=1, within=15)
    assert await stack.ready()
    assert await stack.queued_changes() == 1
    (event,) = await stack.consume_changes(1)
    assert (event.calendar, event.kind) == ("cal_alice_m", ChangeKind.CREATED)
    after = await stack.metrics()
    assert after.notifications("graph", "unavailable") > before.notifications("graph", "unavailable")
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == 1
