"""Graph: occurrence changes on a mirror series (`create` with `instance_of`), and writes back to
a person's own event (`stamp` None) that keep what the person put there."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from providers_support import ALICE, meeting, occurrence, series, stamp

from calbridge.errors import NotFound
from calbridge.model import EventStatus, Timed
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.graph.adapter import GraphCalendar
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)
BERLIN = ZoneInfo("Europe/Berlin")


async def test_given_a_mirror_series_when_occurrences_move_and_cancel_then_they_read_back_as_exceptions(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    master = await graph.create(HERE, series(), stamp("series"))
    moved = await graph.create(HERE, occurrence(master.event.id, 22, moved_to=15), stamp("s-22"))
    assert moved.stamp == stamp("s-22")
    gone = await graph.create(HERE, occurrence(master.event.id, 27, cancelled=True), stamp("s-27"))
    assert gone.event.cancelled
    again = await graph.create(HERE, occurrence(master.event.id, 27, cancelled=True), stamp("s-27"))
    assert again.event.cancelled  # cancelling twice is fine

    pages = [page async for page in graph.changes(HERE, None)]
    changes = [c for page in pages for c in page.changes if isinstance(c, Fetched)]
    exceptions = [c for c in changes if c.event.instance_of is not None and not c.event.cancelled]
    assert [(c.event.id, c.stamp) for c in exceptions] == [(moved.event.id, stamp("s-22"))]
    span = exceptions[0].event.span
    assert isinstance(span, Timed) and span.start == datetime(2026, 10, 22, 15, tzinfo=BERLIN)
    cancelled = [c.event for c in changes if c.event.status is EventStatus.CANCELLED]
    assert [e.instance_of.original_start for e in cancelled] == [  # type: ignore[union-attr]
        datetime(2026, 10, 27, 10, tzinfo=BERLIN)
    ]
    # The id of a cancelled occurrence is the adapter's own: reading it says "gone", never fails
    assert await graph.get(HERE, cancelled[0].id) is None
    assert (await control.counters())["invitations"] == []


async def test_given_a_moved_exception_when_it_changes_again_then_it_is_found_in_its_slot(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    master = await graph.create(HERE, series(), stamp("series"))
    moved = await graph.create(HERE, occurrence(master.event.id, 22, moved_to=15), stamp("s-22"))
    slot = datetime(2026, 10, 22, 10, tzinfo=BERLIN)
    assert moved.event.instance_of is not None and moved.event.instance_of.original_start == slot

    # When the same occurrence changes again, by its slot and by its id
    again = await graph.create(HERE, occurrence(master.event.id, 22, moved_to=16), stamp("s-22"))
    later = await graph.update(
        HERE, moved.event.id, occurrence(master.event.id, 22, moved_to=17), stamp("s-22")
    )

    # Then the one exception moves; its slot stays the 10:00 it came from, and none is lost
    assert again.event.id == later.event.id == moved.event.id
    assert later.event.instance_of is not None and later.event.instance_of.original_start == slot
    state = await graph_control.calendar_state(ALICE)
    stored = next(e for e in state["events"] if e["id"] == master.event.id)
    assert [x["id"] for x in stored["exceptions"]] == [moved.event.id]
    assert stored["cancelledOccurrences"] == []


async def test_given_no_such_series_when_changing_an_occurrence_then_not_found(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    with pytest.raises(NotFound):
        await graph.create(HERE, occurrence("AAMkNoSuchSeries", 22, moved_to=15), stamp())


async def test_given_a_persons_meeting_when_written_back_unstamped_then_attendees_stay(
    graph: GraphCalendar, graph_control: GraphControl, control: SandboxControl
) -> None:
    own = await graph_control.create_event(
        ALICE,
        {
            "subject": "Budget",
            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "W. Europe Standard Time"},
            "attendees": [{"emailAddress": {"address": "bob@example.com"}, "type": "required"}],
        },
    )
    written = await graph.update(HERE, own["id"], meeting("Budget, final"), None)
    assert written.stamp is None and written.event.title == "Budget, final"
    read = await graph.get(HERE, own["id"])
    assert read is not None and read.stamp is None
    assert [a.address for a in read.event.attendees] == ["bob@example.com"]


async def test_given_a_mirror_series_with_an_exception_when_its_title_changes_then_the_exception_stays(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    master = await graph.create(HERE, series(), stamp("series"))
    moved = await graph.create(HERE, occurrence(master.event.id, 22, moved_to=15), stamp("s-22"))
    await graph.update(HERE, master.event.id, series("Standup, renamed"), stamp("series"))
    state = await graph_control.calendar_state(ALICE)
    stored = next(e for e in state["events"] if e["id"] == master.event.id)
    assert stored["subject"] == "Standup, renamed"
    assert [x["id"] for x in stored["exceptions"]] == [moved.event.id]
