"""Google: occurrence changes on a mirror series (`create` with `instance_of`), and writes back
to a person's own event (`stamp` None) that keep what the person put there."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from providers_support import ALICE, meeting, occurrence, series, stamp

from calbridge.errors import NotFound
from calbridge.model import EventStatus, Timed
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.google.adapter import GoogleCalendar
from sandbox.client import SandboxControl

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)
BERLIN = ZoneInfo("Europe/Berlin")


async def test_given_a_mirror_series_when_occurrences_move_and_cancel_then_they_read_back_as_exceptions(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    master = await google.create(HERE, series(), stamp("series"))
    moved = await google.create(HERE, occurrence(master.event.id, 22, moved_to=15), stamp("s-22"))
    gone = await google.create(HERE, occurrence(master.event.id, 27, cancelled=True), stamp("s-27"))
    assert gone.event.cancelled
    again = await google.create(HERE, occurrence(master.event.id, 27, cancelled=True), stamp("s-27"))
    assert again.event.cancelled  # cancelling twice is fine

    pages = [page async for page in google.changes(HERE, None)]
    by_id = {c.event.id: c.event for page in pages for c in page.changes if isinstance(c, Fetched)}
    exception = by_id[moved.event.id]
    assert exception.instance_of is not None and exception.instance_of.master_id == master.event.id
    assert isinstance(exception.span, Timed) and exception.span.start == datetime(
        2026, 10, 22, 15, tzinfo=BERLIN
    )
    cancelled = by_id[gone.event.id]
    assert cancelled.status is EventStatus.CANCELLED
    assert cancelled.instance_of is not None
    assert cancelled.instance_of.original_start == datetime(2026, 10, 27, 10, tzinfo=BERLIN)
    assert (await control.counters())["invitations"] == []


async def test_given_no_such_series_when_changing_an_occurrence_then_not_found(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    with pytest.raises(NotFound):
        await google.create(HERE, occurrence("nosuchseries0", 22, moved_to=15), stamp())


async def test_given_a_persons_meeting_when_written_back_unstamped_then_guests_stay(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    own = await control.google.create_event(
        ALICE,
        {
            "summary": "Budget",
            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "Europe/Berlin"},
            "attendees": [{"email": "bob@example.com"}],
        },
    )
    written = await google.update(HERE, own["id"], meeting("Budget, final"), None)
    assert written.stamp is None and written.event.title == "Budget, final"
    state = await control.google.calendar(ALICE)
    stored = next(e for e in state["events"] if e["id"] == own["id"])
    # Google lists the organizer among the guests by itself: once, and the guest stays.
    assert sorted((a["email"], bool(a.get("organizer"))) for a in stored["attendees"]) == [
        (ALICE, True),
        ("bob@example.com", False),
    ]
    assert "extendedProperties" not in stored or not stored["extendedProperties"].get("private")
    assert (await control.counters())["invitations"] == []


async def test_given_a_persons_meeting_with_a_guest_when_read_and_written_back_then_only_the_guest_attends(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    own = await control.google.create_event(
        ALICE,
        {
            "summary": "Budget",
            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "Europe/Berlin"},
            "attendees": [{"email": "bob@example.com"}],
        },
    )
    read = await google.get(HERE, own["id"])
    assert read is not None and read.event.organizer is not None
    assert read.event.organizer.address == ALICE
    assert [a.address for a in read.event.attendees] == ["bob@example.com"]
    written = await google.update(HERE, own["id"], read.event, None)
    assert [a.address for a in written.event.attendees] == ["bob@example.com"]
    again = await google.get(HERE, own["id"])
    assert again is not None and again.event.attendees == read.event.attendees


async def test_given_a_mirror_series_with_an_exception_when_its_title_changes_then_the_exception_stays(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    master = await google.create(HERE, series(), stamp("series"))
    moved = await google.create(HERE, occurrence(master.event.id, 22, moved_to=15), stamp("s-22"))
    await google.update(HERE, master.event.id, series("Standup, renamed"), stamp("series"))
    exception = await google.get(HERE, moved.event.id)
    assert exception is not None and not exception.event.cancelled
    assert isinstance(exception.event.span, Timed)
    assert exception.event.span.start == datetime(2026, 10, 22, 15, tzinfo=BERLIN)
