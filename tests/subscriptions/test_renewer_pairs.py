"""Pairs that stop needing a calendar: removing or pausing a pair stops its Google channel and
deletes its Graph subscription; resuming subscribes again and resyncs."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

import pytest
from renewer_harness import World, wait_for, world  # noqa: F401

from calbridge.events import ChangeKind

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


async def test_given_a_removed_pair_then_its_channel_is_stopped_and_its_graph_subscription_deleted(
    world: World,
) -> None:
    await world.add_pair("p1", "g_alice", "m_alice")
    renewer = world.renewer()
    await renewer.tick()
    assert len(world.live_channels()) == 1 and len(world.live_graph_subscriptions()) == 1

    await world.set_pair_state("p1", "removing")
    report = await renewer.tick()

    assert report.outcomes.get("stopped") == 2
    assert world.live_channels() == [] and world.sb.google.hub.channels == {}
    assert world.graph_world.subscriptions == {}
    assert await world.rows() == []
    # With nothing left to stop, the removal is finished: the pair and its calendars are gone.
    assert report.outcomes.get("pairs_removed") == 1
    assert await world.pair_ids() == [] and await world.calendar_ids() == []


async def test_given_a_calendar_shared_by_two_pairs_when_one_is_removed_then_it_stays_watched(
    world: World,
) -> None:
    async with world.graph_control() as graph:
        team = await graph.add_calendar("alice@example.com", "Team")
    await world.add_pair("p1", "g_alice", "m_alice")
    await world.add_pair(
        "p2", "g_alice", "m_team", direction="google-to-microsoft", microsoft_calendar=team["id"]
    )
    renewer = world.renewer()
    await renewer.tick()
    assert len(world.live_channels()) == 1  # one channel serves both pairs

    await world.set_pair_state("p1", "removing")
    await renewer.tick()

    assert len(world.live_channels()) == 1 and world.live_graph_subscriptions() == []
    assert {r["calendar_id"] for r in await world.rows()} == {"g_alice"}
    assert await world.pair_ids() == ["p2"] and await world.calendar_ids() == ["g_alice", "m_team"]


async def test_given_a_paused_pair_when_it_is_resumed_then_it_is_subscribed_again_and_resynced(
    world: World,
) -> None:
    await world.add_pair("p1", "g_alice", "m_alice", direction="google-to-microsoft")
    renewer = world.renewer()
    await renewer.tick()
    await world.set_pair_state("p1", "paused")
    await renewer.tick()
    assert world.live_channels() == [] and world.live_graph_subscriptions() == []
    world.tap.events.clear()

    await world.set_pair_state("p1", "active")
    await renewer.tick()

    assert len(world.live_channels()) == 1
    assert world.live_graph_subscriptions() == []  # a one-way pair never watches its target
    await wait_for(lambda: world.tap.of("g_alice", ChangeKind.RESYNC, "subscribed"))
