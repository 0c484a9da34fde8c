"""Several renewers on one PostgreSQL store: claims (SELECT ... FOR UPDATE SKIP LOCKED plus a
lease) make sure no subscription is created, renewed or rotated twice, as the sandbox's call
counters show."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from renewer_harness import World, pg_world  # noqa: F401

from calbridge.store.engine import create_engine
from sandbox.faults import OperationFaults

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.postgres]

USERS = ("alice", "bob", "carol", "dave")
EXTRA_GRAPH_CALENDARS = 4


async def test_given_two_renewers_ticking_together_then_no_subscription_is_acted_on_twice(
    pg_world: World,
) -> None:
    world = pg_world
    for user in USERS:
        await world.add_pair(f"p_{user}", f"g_{user}", f"m_{user}", owner=f"{user}@example.com")
    async with world.graph_control() as graph:
        for n in range(EXTRA_GRAPH_CALENDARS):
            extra = await graph.add_calendar("alice@example.com", f"Room {n}")
            await world.add_pair(
                f"p_room{n}", f"g_room{n}", f"m_room{n}", direction="microsoft-to-google",
                microsoft_calendar=extra["id"], google_calendar=f"room{n}",
            )  # fmt: skip
    # Slow provider answers widen the window in which the two renewers overlap.
    for operation in ("google.events.watch", "google.channels.stop", "graph.subscriptions.create",
                      "graph.subscriptions.update"):  # fmt: skip
        world.sb.faults.operations[operation] = OperationFaults(latency=(0.01, 0.05))
    second_engine = create_engine(world.database_url)
    first, second = world.renewer(seed=1), world.renewer(engine=second_engine, seed=2)
    graph_subscriptions = len(USERS) + EXTRA_GRAPH_CALENDARS

    try:
        # When both subscribe the same fresh pairs at once
        await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
        # Then every calendar was subscribed exactly once
        assert world.calls("google.events.watch", 200) == len(USERS)
        assert world.calls("graph.subscriptions.create") == graph_subscriptions
        assert len(await world.rows()) == len(USERS) + graph_subscriptions

        # When a week passes and both renew together
        world.sb.clock.advance(timedelta(days=6, hours=12))
        await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
        # Then each Graph subscription was renewed once and each channel rotated once
        assert world.calls("graph.subscriptions.update") == graph_subscriptions
        assert world.calls("google.events.watch", 200) == 2 * len(USERS)  # 401s: token refreshes
        assert world.calls("google.channels.stop", 204) == len(USERS)
        assert world.calls("graph.subscriptions.create") == graph_subscriptions
        assert len(world.sb.google.hub.channels) == len(USERS)
    finally:
        await second_engine.dispose()
