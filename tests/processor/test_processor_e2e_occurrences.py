"""End to end: a moved occurrence edited again, then cancelled, on each side, arrives on the
right occurrence of the other side's series.

Given a weekly series on each side of a two-way pair, when Alice moves one occurrence, edits
that same (already moved) occurrence again, and cancels it, then the other side's series shows
each step on the occurrence with the same original start: never on another, never as a
duplicate. Graph names occurrences by opaque ids and says `originalStart` only when asked, so
calbridge finds them through `/instances` with `$select`, never by where they now start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from processor_e2e import ALICE, Stack, eventually, google_start, open_stack, titled

from sandbox.graph.errors import GraphError

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        yield opened


def weekly(title: str, first: str) -> dict[str, Any]:
    return {
        "summary": title,
        "start": {"dateTime": f"{first}T09:00:00Z", "timeZone": "UTC"},
        "end": {"dateTime": f"{first}T10:00:00Z", "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
    }


async def outlook_series(stack: Stack, title: str) -> str | None:
    found = titled(await stack.outlook_events(), title)
    return str(found[0]["id"]) if len(found) == 1 else None


async def outlook_slot(stack: Stack, series: str, original: str) -> dict[str, Any] | None:
    """The Outlook occurrence whose original start is `original` (None: cancelled)."""
    try:
        return await stack.graph.occurrence(ALICE, series, original)
    except Exception as exc:  # the control client raises on 404
        if "ErrorItemNotFound" in str(exc) or isinstance(exc, GraphError):
            return None
        raise


def starts_at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["start"]["dateTime"][:19]).replace(tzinfo=UTC)


async def test_given_a_google_series_when_an_occurrence_is_moved_edited_and_cancelled_then_outlook_follows(
    stack: Stack,
) -> None:
    series_id = await stack.google_create(weekly("gym", "2027-02-01"))
    await eventually(lambda: outlook_series(stack, "gym"), what="series G->M")
    mirror = await outlook_series(stack, "gym")
    assert mirror is not None
    slot, instance = "2027-02-08T09:00:00Z", f"{series_id}_20270208T090000Z"

    # When: the second occurrence moves to 11:00
    await stack.google_edit(
        instance, {"start": {"dateTime": "2027-02-08T11:00:00Z"}, "end": {"dateTime": "2027-02-08T12:00:00Z"}}
    )

    async def moved() -> bool:
        found = await outlook_slot(stack, mirror, slot)
        return found is not None and starts_at(found) == datetime(2027, 2, 8, 11, tzinfo=UTC)

    await eventually(moved, what="the move")

    # and the moved occurrence is renamed (Graph no longer finds it where its slot starts)
    await stack.google_edit(instance, {"summary": "gym (late)"})

    async def renamed() -> bool:
        found = await outlook_slot(stack, mirror, slot)
        return (
            found is not None
            and found["subject"] == "gym (late)"
            and starts_at(found) == datetime(2027, 2, 8, 11, tzinfo=UTC)
        )

    await eventually(renamed, what="the edit of the moved occurrence")
    first = await outlook_slot(stack, mirror, "2027-02-01T09:00:00Z")
    assert first is not None and first["subject"] == "gym"  # no other occurrence was touched

    # and then cancelled
    await stack.google_delete(instance)
    await eventually(lambda: _cancelled(stack, mirror, slot), what="the cancellation of the moved occurrence")
    assert await outlook_slot(stack, mirror, "2027-02-15T09:00:00Z") is not None
    assert (await stack.counters())["invitations"] == []


async def _cancelled(stack: Stack, series: str, original: str) -> bool:
    return await outlook_slot(stack, series, original) is None


async def test_given_an_outlook_series_when_an_occurrence_is_moved_edited_and_cancelled_then_google_follows(
    stack: Stack,
) -> None:
    created = await stack.graph.create_event(
        ALICE,
        {
            "subject": "swim",
            "start": {"dateTime": "2027-03-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-03-01T10:00:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2027-03-01", "numberOfOccurrences": 4},
            },
        },
    )
    series = str(created["id"])
    slot = "2027-03-08T09:00:00Z"

    async def google_copy(title: str) -> list[dict[str, Any]]:
        return titled(await stack.google_events(), title)

    await eventually(lambda: _one(google_copy("swim")), what="series M->G")
    [master] = await google_copy("swim")
    instance = f"{master['id']}_20270308T090000Z"

    async def google_instance() -> dict[str, Any] | None:
        state = await stack.control.google.calendar(ALICE)
        found = [e for e in state["events"] if e["id"] == instance]
        return found[0] if found else None

    # When: the second occurrence moves to 11:00 in Outlook
    await stack.graph.update_occurrence(
        ALICE,
        series,
        slot,
        {
            "start": {"dateTime": "2027-03-08T11:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-03-08T12:00:00", "timeZone": "UTC"},
        },
    )

    async def moved() -> bool:
        found = await google_instance()
        return (
            found is not None
            and found.get("status") != "cancelled"
            and google_start(found) == datetime(2027, 3, 8, 11, tzinfo=UTC)
        )

    await eventually(moved, what="the move")

    # and the moved occurrence is renamed, then cancelled
    await stack.graph.update_occurrence(ALICE, series, slot, {"subject": "swim (late)"})

    async def renamed() -> bool:
        found = await google_instance()
        return found is not None and found.get("summary") == "swim (late)"

    await eventually(renamed, what="the edit of the moved occurrence")
    await stack.graph.delete_occurrence(ALICE, series, slot)

    async def cancelled() -> bool:
        found = await google_instance()
        return found is not None and found.get("status") == "cancelled"

    await eventually(cancelled, what="the cancellation of the moved occurrence")
    live = [
        e for e in (await stack.control.google.calendar(ALICE))["events"] if e.get("status") != "cancelled"
    ]
    assert [e["id"] for e in live if "swim" in e.get("summary", "")] == [master["id"]]  # no stray copy
    assert (await stack.counters())["invitations"] == []


async def _one(found: Any) -> bool:
    return len(await found) == 1
