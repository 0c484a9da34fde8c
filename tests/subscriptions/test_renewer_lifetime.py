"""A pair's calendars stay subscribed: created on the first pass, kept alive for a month of
sandbox time through renewals, rotations, a token re-signing and injected provider failures."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

from datetime import timedelta

import pytest
from renewer_harness import ALICE, World, wait_for, world  # noqa: F401

from calbridge.events import ChangeKind, Provider
from calbridge.tokens import verify_token
from sandbox.faults import OperationFaults

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

STEP = timedelta(hours=2)
GOOGLE_EVENT = {
    "summary": "Planning",
    "start": {"dateTime": "2026-12-22T09:00:00Z"},
    "end": {"dateTime": "2026-12-22T10:00:00Z"},
}
GRAPH_EVENT = {
    "subject": "Planning",
    "start": {"dateTime": "2026-12-22T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-22T10:00:00", "timeZone": "UTC"},
}


async def test_given_an_active_pair_when_the_renewer_runs_then_both_sources_are_subscribed(
    world: World,
) -> None:
    await world.add_pair("p1", "g_alice", "m_alice")
    renewer = world.renewer()

    report = await renewer.tick()

    assert report.outcomes.get("created") == 2
    [channel] = world.live_channels()
    [graph_sub] = world.live_graph_subscriptions()
    rows = {r["calendar_id"]: r for r in await world.rows()}
    assert rows["g_alice"]["id"] == channel.id and rows["g_alice"]["provider_id"] == channel.resource_id
    assert rows["m_alice"]["provider_id"] == graph_sub.id
    now = world.now()
    assert timedelta(days=6) < rows["g_alice"]["expires_at"] - now <= timedelta(days=7)
    assert timedelta(days=6) < rows["m_alice"]["expires_at"] - now <= timedelta(minutes=10_080)
    assert {r["state"] for r in rows.values()} == {"active"} and {r["key_id"] for r in rows.values()} == {
        "k2"
    }
    # The tokens are ours, bound to the calendar (and, for Google, to the channel).
    assert verify_token(channel.token, Provider.GOOGLE, {"k2": b"b" * 32}, channel_id=channel.id,
                        clock=world.now).calendar_ref == "g_alice"  # fmt: skip
    assert verify_token(
        graph_sub.client_state, Provider.GRAPH, {"k2": b"b" * 32}, clock=world.now
    ).calendar_ref == ("m_alice")
    # A newly watched calendar gets a resync hint, so nothing between baseline and subscription waits.
    await wait_for(
        lambda: world.tap.of("g_alice", ChangeKind.RESYNC) and world.tap.of("m_alice", ChangeKind.RESYNC)
    )

    again = await renewer.tick()
    assert "created" not in again.outcomes and len(world.live_channels()) == 1


async def test_given_thirty_days_with_failing_renewals_then_nothing_lapses_and_day_29_changes_arrive(
    world: World,
) -> None:
    await world.add_pair("p1", "g_alice", "m_alice")
    renewer = world.renewer()
    await renewer.tick()
    faulty = ("google.events.watch", "graph.subscriptions.update", "graph.subscriptions.create")
    # Half a day or more of failures over a renewal, twice (the first pushes the schedule on).
    windows = [
        (timedelta(days=5, hours=12), timedelta(days=6, hours=8)),
        (timedelta(days=18), timedelta(days=18, hours=12)),
    ]
    failed_in = [0 for _ in windows]
    lapses = []

    elapsed = timedelta(0)
    while elapsed < timedelta(days=30):
        elapsed += STEP
        world.sb.clock.advance(STEP)
        window = next((i for i, (start, end) in enumerate(windows) if start <= elapsed < end), None)
        for operation in faulty:
            if window is not None:
                world.sb.faults.operations[operation] = OperationFaults(error_rate=1.0, error_status=503)
            else:
                world.sb.faults.operations.pop(operation, None)
        report = await renewer.tick()
        if window is not None:
            failed_in[window] += report.outcomes.get("failed", 0)
        if not world.live_channels() or not world.live_graph_subscriptions():
            lapses.append(elapsed)

    assert lapses == []
    assert all(failed_in), failed_in  # the faults did hit renewals, in both windows
    assert world.calls("google.events.watch", 503) > 0 and world.calls("graph.subscriptions.update", 503) > 0
    assert world.calls("graph.subscriptions.update", 200) >= 3  # renewed in place, several times
    assert world.calls("google.channels.stop", 204) + world.calls("google.channels.stop", 200) >= 3  # rotated
    assert world.calls("graph.subscriptions.create", 201) >= 2  # re-signed once the clientState aged
    assert len(world.live_channels()) == 1 and len(world.live_graph_subscriptions()) == 1

    # After day 29: a person's edit on each side still reaches the receiver and the bus.
    async with world.sb.control() as control:
        await control.google.create_event(ALICE, GOOGLE_EVENT)
    async with world.graph_control() as graph_control:
        await graph_control.create_event(ALICE, GRAPH_EVENT)

    await wait_for(lambda: world.tap.of("g_alice", ChangeKind.CHANGED))
    await wait_for(lambda: world.tap.of("m_alice", ChangeKind.CREATED))
