"""End to end when the world misbehaves: notifications duplicated, reordered and dropped, API
errors and throttling; and a recurring series with a moved and a cancelled occurrence.

Given Alice's paired calendars on the sandbox; when push notifications are duplicated,
reordered and dropped, and some API calls fail or are throttled; then after the reconciliation's
resync both sides hold the same events, each once, and nobody was invited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from processor_e2e import ALICE, Stack, eventually, open_stack, outlook_start, titled
from test_processor_e2e_sync import google_timed, outlook_timed

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path, seed=5) as opened:
        yield opened


async def titles(stack: Stack) -> tuple[list[str], list[str]]:
    google = sorted(e["summary"] for e in await stack.google_events())
    outlook = sorted(e["subject"] for e in await stack.outlook_events())
    return google, outlook


async def test_given_duplicated_reordered_and_dropped_notifications_then_a_resync_converges_once(
    stack: Stack,
) -> None:
    for provider in ("google", "graph"):
        await stack.control.set_notification_faults(provider, drop_rate=0.3, duplicate_rate=0.5, reorder=True)
    await stack.control.set_fault("google.events.insert", error_rate=0.3, error_status=503)
    await stack.control.set_fault("graph.events.create", error_rate=0.3, error_status=429, retry_after=0.2)

    google_ids = [
        await stack.google_create(
            google_timed(f"g{n}", f"2026-12-0{n + 1}T09:00:00Z", f"2026-12-0{n + 1}T10:00:00Z")
        )
        for n in range(5)
    ]
    outlook_ids = [
        await stack.outlook_create(
            outlook_timed(f"m{n}", f"2026-12-0{n + 1}T13:00:00", f"2026-12-0{n + 1}T14:00:00")
        )
        for n in range(4)
    ]
    await stack.google_edit(google_ids[0], {"summary": "g0 edited"})
    await stack.outlook_edit(outlook_ids[0], {"subject": "m0 edited"})
    await stack.google_delete(google_ids[1])
    await stack.outlook_delete(outlook_ids[1])
    expected = sorted(["g0 edited", "g2", "g3", "g4", "m0 edited", "m2", "m3"])

    # The reconciliation catches whatever a dropped notification left behind
    await stack.control.clear_fault("google.events.insert")
    await stack.control.clear_fault("graph.events.create")
    await stack.resync()

    async def converged() -> bool:
        google, outlook = await titles(stack)
        return google == outlook == expected

    await eventually(converged, within=30, what="both calendars to hold the same events once")
    counters = await stack.counters()
    assert counters["invitations"] == []


async def test_given_a_series_with_a_moved_and_a_cancelled_occurrence_then_it_arrives_as_one_series(
    stack: Stack,
) -> None:
    series = await stack.google_create(
        {
            "summary": "weekly sync",
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        }
    )

    async def mirrored() -> bool:
        return len(titled(await stack.outlook_events(), "weekly sync")) == 1

    await eventually(mirrored, what="the series mirrored")
    moved = {"dateTime": "2026-12-08T14:00:00", "timeZone": "Europe/Berlin"}
    await stack.google_edit(
        f"{series}_20261208T080000Z", {"start": moved, "end": {**moved, "dateTime": "2026-12-08T15:00:00"}}
    )
    await stack.google_delete(f"{series}_20261215T080000Z")

    async def with_exceptions() -> bool:
        events = titled(await stack.outlook_events(), "weekly sync")
        if len(events) != 1 or events[0]["type"] != "seriesMaster":
            return False
        master = events[0]
        exception_starts = [outlook_start(e) for e in master.get("exceptions", [])]
        return (
            exception_starts == [datetime(2026, 12, 8, 13, tzinfo=UTC)]
            and len(master.get("cancelledOccurrences", [])) == 1
        )

    await eventually(with_exceptions, what="one series with a moved and a cancelled occurrence")
    state = await stack.graph.calendar_state(ALICE)
    assert [e["type"] for e in state["events"]] == ["seriesMaster"], "no stray single events"
