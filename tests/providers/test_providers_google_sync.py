"""Google changes(): full and incremental sync over the sync-token protocol, through the real
google-api-python-client against the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from providers_support import ALICE

from calbridge.errors import CursorExpired
from calbridge.model import EventStatus, Timed
from calbridge.providers.base import CalendarAddress, ChangePage, Fetched, Removed
from calbridge.providers.google.adapter import GoogleCalendar
from sandbox.client import SandboxControl

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)


def timed(day: str, start: str, end: str, zone: str = "Europe/Berlin") -> dict[str, Any]:
    return {
        "start": {"dateTime": f"{day}T{start}:00", "timeZone": zone},
        "end": {"dateTime": f"{day}T{end}:00", "timeZone": zone},
    }


async def drain(google: GoogleCalendar, cursor: str | None) -> tuple[list[ChangePage], str]:
    pages = [page async for page in google.changes(HERE, cursor)]
    assert all(page.cursor is None for page in pages[:-1]), "only the last page carries the cursor"
    assert pages[-1].cursor is not None
    return pages, pages[-1].cursor


def flat(pages: list[ChangePage]) -> list[Fetched | Removed]:
    return [change for page in pages for change in page.changes]


async def test_given_events_when_syncing_fully_then_incrementally_then_edits_and_deletions_arrive(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    made = [
        await control.google.create_event(
            ALICE, {"summary": f"Event {n}", **timed("2026-12-0" + str(n), "09:00", "10:00")}
        )
        for n in range(1, 6)
    ]
    pages, cursor = await drain(google, None)
    assert len(pages) >= 3  # five events in pages of two
    first = {c.event.id: c.event.title for c in flat(pages) if isinstance(c, Fetched)}
    assert first == {m["id"]: m["summary"] for m in made}

    await control.google.edit_event(ALICE, made[0]["id"], {"summary": "Moved"})
    await control.google.delete_event(ALICE, made[1]["id"])
    pages, _ = await drain(google, cursor)
    changes = flat(pages)

    edited = [c for c in changes if isinstance(c, Fetched)]
    assert [(c.event.id, c.event.title) for c in edited] == [(made[0]["id"], "Moved")]
    assert [c for c in changes if isinstance(c, Removed)] == [Removed(made[1]["id"])]


async def test_given_no_change_since_the_cursor_when_syncing_then_an_empty_page_with_a_cursor(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    _, cursor = await drain(google, None)
    pages, again = await drain(google, cursor)
    assert flat(pages) == [] and again


async def test_given_an_expired_sync_token_when_syncing_then_cursor_expired(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    await control.google.create_event(ALICE, {"summary": "x", **timed("2026-12-01", "09:00", "10:00")})
    _, cursor = await drain(google, None)
    await control.google.expire_sync_tokens(ALICE)
    with pytest.raises(CursorExpired):
        await drain(google, cursor)


async def test_given_a_series_with_moved_and_cancelled_occurrences_when_syncing_then_both_name_the_series(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    series = await control.google.create_event(
        ALICE,
        {
            "summary": "Standup",
            **timed("2026-10-20", "10:00", "10:15"),
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=10"],
        },
    )
    moved_id = f"{series['id']}_20261022T080000Z"  # 10:00 Berlin (CEST)
    cancelled_id = f"{series['id']}_20261027T090000Z"  # 10:00 Berlin (CET, after the change)
    await control.google.edit_event(ALICE, moved_id, timed("2026-10-22", "15:00", "15:15"))
    await control.google.delete_event(ALICE, cancelled_id)

    pages, _ = await drain(google, None)
    by_id = {c.event.id: c for c in flat(pages) if isinstance(c, Fetched)}

    master = by_id[series["id"]].event
    assert master.recurrence is not None and master.recurrence.rules == ("RRULE:FREQ=DAILY;COUNT=10",)
    berlin = ZoneInfo("Europe/Berlin")
    moved = by_id[moved_id].event
    assert moved.instance_of is not None and moved.instance_of.master_id == series["id"]
    assert moved.instance_of.original_start == datetime(2026, 10, 22, 10, 0, tzinfo=berlin)
    assert isinstance(moved.span, Timed) and moved.span.start == datetime(2026, 10, 22, 15, 0, tzinfo=berlin)
    cancelled = by_id[cancelled_id].event
    assert cancelled.status is EventStatus.CANCELLED
    assert cancelled.instance_of is not None and cancelled.instance_of.master_id == series["id"]
    assert cancelled.instance_of.original_start == datetime(2026, 10, 27, 10, 0, tzinfo=berlin)
