"""Graph lifecycle events and lost subscriptions: the renewer recreates, renews or resyncs, and
a change made while a subscription was missing still reaches the bus as a resync hint."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from renewer_harness import ALICE, KEYS, NEXT_KEY, World, wait_for, world  # noqa: F401

from calbridge.events import ChangeKind
from sandbox.faults import OperationFaults
from subscriptions.renewer import Renewer

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

PERSONS_EVENT = {
    "subject": "Made while nobody listened",
    "start": {"dateTime": "2026-12-22T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-22T10:00:00", "timeZone": "UTC"},
}


async def subscribed(world: World) -> tuple[Renewer, str]:
    """Given a pair that copies Alice's Outlook calendar to Google, subscribed."""
    await world.add_pair("p1", "g_alice", "m_alice", direction="microsoft-to-google")
    renewer = world.renewer()
    await renewer.tick()
    [subscription] = world.live_graph_subscriptions()
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "subscribed"))
    return renewer, subscription.id


@asynccontextmanager
async def consuming_lifecycle(world: World, renewer: Renewer) -> AsyncIterator[None]:
    consumer = await world.bus.consume_lifecycle(renewer.handle_lifecycle)
    try:
        yield
    finally:
        await consumer.stop()


async def test_given_subscription_removed_then_it_is_recreated_and_the_gap_is_resynced(world: World) -> None:
    renewer, old_id = await subscribed(world)
    async with world.graph_control() as graph:
        # Graph removes the subscription and says so; a person edits before the renewer acts.
        await graph.fire_lifecycle(old_id, "subscriptionRemoved")
        assert world.live_graph_subscriptions() == []
        await graph.create_event(ALICE, PERSONS_EVENT)

        async with consuming_lifecycle(world, renewer):
            hint = await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "removed"))

    [new] = world.live_graph_subscriptions()
    assert new.id != old_id
    # Nobody notified the person's edit: only the resync hint brings it to the processor.
    assert world.tap.of("m_alice", ChangeKind.CREATED) == []
    assert len(hint) == 1
    [row] = await world.rows()
    assert row["provider_id"] == new.id and row["state"] == "active"


async def test_given_missed_notifications_then_the_calendar_is_resynced(world: World) -> None:
    renewer, subscription_id = await subscribed(world)
    async with world.graph_control() as graph, consuming_lifecycle(world, renewer):
        await graph.fire_lifecycle(subscription_id, "missed")
        await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "missed"))
    assert [s.id for s in world.live_graph_subscriptions()] == [subscription_id]


async def test_given_reauthorization_required_then_the_subscription_is_renewed_in_place(world: World) -> None:
    renewer, subscription_id = await subscribed(world)
    world.sb.clock.advance(timedelta(days=2))
    before = world.live_graph_subscriptions()[0].expiration
    async with world.graph_control() as graph, consuming_lifecycle(world, renewer):
        await graph.fire_lifecycle(subscription_id, "reauthorizationRequired")
        await wait_for(lambda: world.calls("graph.subscriptions.update", 200) == 1)
    [renewed] = world.live_graph_subscriptions()
    assert renewed.id == subscription_id
    assert renewed.expiration - before >= timedelta(days=1, hours=23)


async def test_given_a_subscription_deleted_silently_when_renewal_gets_404_then_it_is_recreated_and_resynced(
    world: World,
) -> None:
    renewer, old_id = await subscribed(world)
    async with world.graph_control() as graph:
        await graph.remove_subscription(old_id)  # no lifecycle event: Graph just forgot it
    world.sb.clock.advance(timedelta(days=6, hours=12))  # past the renewal time

    report = await renewer.tick()

    assert world.calls("graph.subscriptions.update", 404) == 1
    assert report.outcomes.get("recreated") == 1
    [new] = world.live_graph_subscriptions()
    assert new.id != old_id
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "gone"))


async def test_given_an_outage_longer_than_the_margin_then_the_lapsed_subscription_is_recreated_and_resynced(
    world: World,
) -> None:
    renewer, old_id = await subscribed(world)
    world.sb.faults.operations["graph.subscriptions.update"] = OperationFaults(
        error_rate=1.0, error_status=503
    )
    world.sb.faults.operations["graph.subscriptions.create"] = OperationFaults(
        error_rate=1.0, error_status=503
    )
    for _ in range(15):  # seven and a half days: the renewals from day six on all fail
        world.sb.clock.advance(timedelta(hours=12))
        await renewer.tick()
    assert world.live_graph_subscriptions() == []  # lapsed: Graph forgot it
    world.sb.faults.reset()

    world.sb.clock.advance(timedelta(hours=2))
    await renewer.tick()

    [new] = world.live_graph_subscriptions()
    assert new.id != old_id
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "lapsed"))


async def test_given_a_new_first_key_then_every_subscription_is_signed_with_it_at_its_next_renewal(
    world: World,
) -> None:
    await world.add_pair("p1", "g_alice", "m_alice")
    await world.renewer().tick()
    rotated = world.renewer(keys={**NEXT_KEY, **KEYS})

    world.sb.clock.advance(timedelta(days=6, hours=12))
    await rotated.tick()

    [channel], [graph_subscription] = world.live_channels(), world.live_graph_subscriptions()
    assert channel.token.split(".")[2] == "k3" and graph_subscription.client_state.split(".")[2] == "k3"
    assert {r["key_id"] for r in await world.rows()} == {"k3"}
    assert world.calls("graph.subscriptions.update") == 0  # a PATCH cannot change clientState
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.RESYNC, "resigned"))
    # And the receiver, which knows the new key, takes the notifications it signs.
    async with world.graph_control() as graph:
        await graph.create_event(ALICE, PERSONS_EVENT)
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.CREATED))
