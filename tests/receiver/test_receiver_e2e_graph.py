"""Microsoft Graph end to end: subscriptions made with msgraph-sdk against the sandbox, the
emulator's notifications -> the receiver -> RabbitMQ.

The subscription create only succeeds if the receiver answers Graph's validation handshake on
both URLs (served over HTTPS, as Graph requires); a person's edits then reach the bus as
created/updated/deleted change events of the calendar the clientState names; clientStates signed
by anyone else never do; and a broker outage is covered by Graph's own retry of the 503.

Exchange Online sends several notifications for one change (`updated` repeats of an update, and
of a create). The receiver publishes every authentic notification it is sent, repeats included
(docs/receiver.md says why); these tests fix the number of repeats and check that every message
beyond the distinct changes is a repeat of one of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from receiver_e2e import (
    ALICE,
    ROGUE_KEYS,
    Stack,
    distinct_changes,
    eventually,
    exchange_echoes,
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


async def test_given_a_msgraph_subscription_when_a_person_edits_then_the_bus_gets_each_change_in_order(
    stack: Stack, graph: Any
) -> None:
    before = await stack.metrics()
    exchange_echoes(stack, after_create=1, after_update=2)

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
    sent = 3 + 1 + 2  # three changes, one repeat of the create, two of the update
    await settled(stack, delivered=sent)

    # Then the broker holds every notification, and the distinct changes are the three, in order
    assert await stack.queued_changes() == sent
    events = await stack.consume_changes(sent)
    assert {(e.provider, e.calendar) for e in events} == {(Provider.GRAPH, "cal_alice_m")}
    changes = distinct_changes(events)
    assert [e.kind for e in changes] == [ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.DELETED]
    assert len({e.resource for e in events}) == 1 and events[0].resource
    assert changes[0].version != changes[1].version  # the edit is a new version, never a repeat
    repeats = [e for e in events if e not in changes]
    assert len(repeats) == 3 and {e.kind for e in repeats} == {ChangeKind.UPDATED}
    after = await stack.metrics()
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == sent


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
    exchange_echoes(stack, after_create=1, after_update=1)  # each create: its notice and one repeat
    before = await stack.metrics()
    genuine = await subscribe(graph, stack, graph_state("cal_alice_m"))
    await subscribe(graph, stack, graph_state("cal_alice_m", ROGUE_KEYS))  # a key we never issued
    await subscribe(graph, stack, tampered(graph_state("cal_alice_m")))  # ref changed after signing

    # When a person creates an event: Graph batches the three items in one POST (and its repeat
    # in another)
    async with graph_control(stack) as control:
        await control.create_event(ALICE, graph_event("one"))
        await settled(stack, delivered=2 * 3)
        # The forged items were dropped from batches answered 202. Now without the genuine
        # subscription: batches of forged items only, refused 403 on every attempt
        await control.remove_subscription(genuine.id)
        await control.create_event(ALICE, graph_event("two"))
    await settled(stack, delivered=2 * 3, failed=2 * 2)

    # Then only the genuine items ever reached the bus: one change, and Exchange's repeat of it
    assert await stack.queued_changes() == 2
    events = await stack.consume_changes(2)
    assert {(e.calendar, e.version) for e in events} == {("cal_alice_m", events[0].version)}
    (change,) = distinct_changes(events)
    assert change.kind == ChangeKind.CREATED
    after = await stack.metrics()
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == 2
    forged = after.notifications("graph", "forged") - before.notifications("graph", "forged")
    assert forged == 2 * 2 + 2 * 2 * 3  # two forged items in each 202 batch; in each 403 batch, per attempt
    assert after.responses(ROUTE, 403) - before.responses(ROUTE, 403) == 2 * 3


async def test_given_the_broker_is_cut_off_when_graph_notifies_then_503_and_its_retry_lands_exactly_once(
    stack: Stack, graph: Any
) -> None:
    graph_world(stack).notification_retry_delays = (0.5, 1.0, 2.0, 4.0)
    exchange_echoes(stack, after_create=1, after_update=1)
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

    # Then, once the broker is back, Graph's retries are accepted and the change lands once
    # (beside Exchange's repeat of it)
    stack.proxy.restore()
    await settled(stack, delivered=2, within=15)
    assert await stack.ready()
    assert await stack.queued_changes() == 2
    events = await stack.consume_changes(2)
    (change,) = distinct_changes(events)
    assert (change.calendar, change.kind) == ("cal_alice_m", ChangeKind.CREATED)
    after = await stack.metrics()
    assert after.notifications("graph", "unavailable") > before.notifications("graph", "unavailable")
    assert after.notifications("graph", "accepted") - before.notifications("graph", "accepted") == 2
