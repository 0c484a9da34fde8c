"""End to end through the whole path: a person's edits in Google or Outlook -> the provider's
push -> the receiver -> RabbitMQ -> the processor -> the other calendar, on the sandbox.

Given Alice's Google and Outlook calendars paired two ways; when she creates, renames, moves
and deletes events on either side (and adds an all-day event and one on a DST day); then the
other side shows each change with exact times, nothing is duplicated, nobody is invited, and
a later resync writes nothing (no echo writes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from processor_e2e import (
    Stack,
    eventually,
    google_start,
    open_stack,
    outlook_start,
    titled,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        yield opened


def google_timed(title: str, start: str, end: str, zone: str | None = None) -> dict[str, Any]:
    def at(value: str) -> dict[str, str]:
        return {"dateTime": value, "timeZone": zone} if zone else {"dateTime": value}

    return {"summary": title, "start": at(start), "end": at(end)}


def outlook_timed(title: str, start: str, end: str) -> dict[str, Any]:
    return {
        "subject": title,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    }


async def shows(stack: Stack, side: str, title: str, start: datetime | str | None = None) -> bool:
    """Whether exactly one event of `title` (starting at `start`) is on `side`."""
    if side == "outlook":
        found = titled(await stack.outlook_events(), title)
        starts = [outlook_start(e) for e in found]
    else:
        found = titled(await stack.google_events(), title)
        starts = [google_start(e) for e in found]
    return len(found) == 1 and (start is None or starts == [start])


async def gone(stack: Stack, side: str, title: str) -> bool:
    events = await (stack.outlook_events() if side == "outlook" else stack.google_events())
    return not titled(events, title)


async def test_given_a_two_way_pair_when_people_edit_both_sides_then_each_change_lands_once_without_echoes(
    stack: Stack,
) -> None:
    # Create on each side
    google_id = await stack.google_create(
        google_timed("standup", "2026-11-25T09:00:00Z", "2026-11-25T09:30:00Z")
    )
    outlook_id = await stack.outlook_create(
        outlook_timed("review", "2026-11-26T14:00:00", "2026-11-26T15:00:00")
    )
    await eventually(
        lambda: shows(stack, "outlook", "standup", datetime(2026, 11, 25, 9, tzinfo=UTC)), what="create G->M"
    )
    await eventually(
        lambda: shows(stack, "google", "review", datetime(2026, 11, 26, 14, tzinfo=UTC)), what="create M->G"
    )

    # Edit (rename) on each side
    await stack.google_edit(google_id, {"summary": "standup (daily)"})
    await stack.outlook_edit(outlook_id, {"subject": "review (final)"})
    await eventually(lambda: shows(stack, "outlook", "standup (daily)"), what="rename G->M")
    await eventually(lambda: shows(stack, "google", "review (final)"), what="rename M->G")

    # Move on each side
    await stack.google_edit(
        google_id,
        {"start": {"dateTime": "2026-11-25T11:00:00Z"}, "end": {"dateTime": "2026-11-25T11:30:00Z"}},
    )
    await stack.outlook_edit(
        outlook_id,
        {
            "start": {"dateTime": "2026-11-26T16:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-26T17:00:00", "timeZone": "UTC"},
        },
    )
    await eventually(
        lambda: shows(stack, "outlook", "standup (daily)", datetime(2026, 11, 25, 11, tzinfo=UTC)),
        what="move G->M",
    )
    await eventually(
        lambda: shows(stack, "google", "review (final)", datetime(2026, 11, 26, 16, tzinfo=UTC)),
        what="move M->G",
    )

    # All-day, and a meeting on the day New York springs forward, keep their exact dates and times
    await stack.google_create(
        {"summary": "offsite", "start": {"date": "2026-11-27"}, "end": {"date": "2026-11-28"}}
    )
    await stack.google_create(
        google_timed("dst day", "2027-03-14T09:00:00", "2027-03-14T10:00:00", zone="America/New_York")
    )
    await eventually(lambda: shows(stack, "outlook", "offsite", "2026-11-27"), what="all-day G->M")
    await eventually(
        lambda: shows(stack, "outlook", "dst day", datetime(2027, 3, 14, 13, tzinfo=UTC)), what="DST-day G->M"
    )
    [offsite] = titled(await stack.outlook_events(), "offsite")
    assert offsite["isAllDay"] and offsite["end"]["dateTime"].startswith("2026-11-28T00:00:00")

    # Delete on each side
    await stack.google_delete(google_id)
    await stack.outlook_delete(outlook_id)
    await eventually(lambda: gone(stack, "outlook", "standup (daily)"), what="delete G->M")
    await eventually(lambda: gone(stack, "google", "review (final)"), what="delete M->G")

    # Then: no duplicates, nobody invited, and a resync of both sides writes nothing
    google_titles = sorted(e["summary"] for e in await stack.google_events())
    outlook_titles = sorted(e["subject"] for e in await stack.outlook_events())
    assert google_titles == outlook_titles == ["dst day", "offsite"]
    counters = await stack.counters()
    assert counters["invitations"] == []
    assert set(counters["send_updates"]) <= {"none"}, counters["send_updates"]
    before, handled = writes(counters), stack.processor.consumer.handled
    await stack.resync()
    await eventually(lambda: stack.settled(handled + 2), what="the resync passes")
    assert writes(await stack.counters()) == before, "a resync after everything settled wrote something"
