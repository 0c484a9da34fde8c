"""Graph changes(): calendarView/delta rounds, removals, series with exceptions and cancelled
occurrences, stamps on mirrors, through the real msgraph-sdk against the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)
from providers_support import ALICE, meeting, stamp

from calbridge.errors import CursorExpired
from calbridge.model import EventStatus, Timed
from calbridge.providers.base import CalendarAddress, ChangePage, Fetched, Removed
from calbridge.providers.graph.adapter import GraphCalendar
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)
BERLIN = "W. Europe Standard Time"


def timed(day: str, start: str, end: str, zone: str = BERLIN) -> dict[str, Any]:
    return {
        "start": {"dateTime": f"{day}T{start}:00", "timeZone": zone},
        "end": {"dateTime": f"{day}T{end}:00", "timeZone": zone},
    }


async def drain(graph: GraphCalendar, cursor: str | None) -> tuple[list[ChangePage], str]:
    pages = [page async for page in graph.changes(HERE, cursor)]
    assert all(page.cursor is None for page in pages[:-1]), "only the last page carries the cursor"
    assert pages[-1].cursor is not None
    return pages, pages[-1].cursor


def flat(pages: list[ChangePage]) -> list[Fetched | Removed]:
    return [change for page in pages for change in page.changes]


async def test_given_events_when_syncing_fully_then_incrementally_then_edits_and_deletions_arrive(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = [
        await graph_control.create_event(
            ALICE, {"subject": f"Event {n}", **timed(f"2026-12-0{n}", "09:00", "10:00")}
        )
        for n in range(1, 6)
    ]
    pages, cursor = await drain(graph, None)
    assert len(pages) >= 2  # five events in pages of three
    assert {c.event.id: c.event.title for c in flat(pages) if isinstance(c, Fetched)} == {
        m["id"]: m["subject"] for m in made
    }

    await graph_control.update_event(ALICE, made[0]["id"], {"subject": "Moved"})
    await graph_control.delete_event(ALICE, made[1]["id"])
    pages, again = await drain(graph, cursor)
    changes = flat(pages)
    assert [(c.event.id, c.event.title) for c in changes if isinstance(c, Fetched)] == [
        (made[0]["id"], "Moved")
    ]
    assert [c for c in changes if isinstance(c, Removed)] == [Removed(made[1]["id"])]

    pages, _ = await drain(graph, again)
    assert flat(pages) == []


async def test_given_an_event_moved_out_of_the_window_when_syncing_then_it_is_not_reported_removed(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph_control.create_event(
        ALICE, {"subject": "Later", **timed("2026-12-01", "09:00", "10:00")}
    )
    _, cursor = await drain(graph, None)
    await graph_control.update_event(ALICE, made["id"], timed("2029-06-01", "09:00", "10:00"))
    pages, _ = await drain(graph, cursor)
    changes = flat(pages)
    assert not [c for c in changes if isinstance(c, Removed)]
    moved = [c for c in changes if isinstance(c, Fetched)]
    assert len(moved) == 1 and moved[0].event.span.start.year == 2029  # type: ignore[union-attr]


async def test_given_an_expired_delta_link_when_syncing_then_cursor_expired(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    _, cursor = await drain(graph, None)
    await graph_control.expire_delta(ALICE)
    with pytest.raises(CursorExpired):
        await drain(graph, cursor)


async def test_given_mirrors_and_a_persons_event_when_syncing_then_only_mirrors_carry_stamps(
    graph: GraphCalendar, graph_control: GraphControl, control: SandboxControl
) -> None:
    mirror = await graph.create(HERE, meeting("Mirror"), stamp())
    person = await graph_control.create_event(
        ALICE, {"subject": "Own", **timed("2026-12-03", "09:00", "10:00")}
    )
    pages, _ = await drain(graph, None)
    stamps = {c.event.id: c.stamp for c in flat(pages) if isinstance(c, Fetched)}
    assert stamps == {mirror.event.id: stamp(), person["id"]: None}
    gets = sum(
        c["count"] for c in (await control.counters())["calls"] if c["operation"] == "graph.events.get"
    )
    assert gets == 0  # the mirror's marks are those its create wrote; the person's event has none


async def graph_gets(control: SandboxControl) -> int:
    calls = (await control.counters())["calls"]
    return sum(c["count"] for c in calls if c["operation"] == "graph.events.get")


async def test_given_a_mirror_edited_by_a_person_when_syncing_then_its_marks_are_read_again(
    graph: GraphCalendar, graph_control: GraphControl, control: SandboxControl
) -> None:
    mirror = await graph.create(HERE, meeting("Mirror"), stamp())
    _, cursor = await drain(graph, None)
    before = await graph_gets(control)
    await graph_control.update_event(ALICE, mirror.event.id, {"subject": "Renamed"})
    pages, _ = await drain(graph, cursor)
    (seen,) = [c for c in flat(pages) if isinstance(c, Fetched)]
    assert seen.event.title == "Renamed" and seen.stamp == stamp()
    assert await graph_gets(control) - before == 1  # a new changeKey: the marks are read, not assumed


async def test_given_a_series_with_a_moved_and_a_cancelled_occurrence_when_syncing_then_both_name_the_series(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    series = await graph_control.create_event(
        ALICE,
        {
            "subject": "Standup",
            **timed("2026-10-20", "10:00", "10:15"),
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2026-10-20", "numberOfOccurrences": 10},
            },
        },
    )
    occurrences = await _occurrences(graph, series["id"])
    moved_id = occurrences["2026-10-22T08:00:00Z"]  # 10:00 Berlin, summer time
    cancelled_id = occurrences["2026-10-27T09:00:00Z"]  # 10:00 Berlin, winter time
    await graph_control.update_event(ALICE, moved_id, timed("2026-10-22", "15:00", "15:15"))
    await graph_control.delete_event(ALICE, cancelled_id)

    pages, _ = await drain(graph, None)
    changes = [c for c in flat(pages) if isinstance(c, Fetched)]
    berlin = ZoneInfo("Europe/Berlin")
    masters = [c.event for c in changes if c.event.recurrence is not None]
    assert [m.id for m in masters] == [series["id"]]
    assert masters[0].recurrence is not None and "COUNT=10" in masters[0].recurrence.rules[0]

    exceptions = [c.event for c in changes if c.event.instance_of is not None and not c.event.cancelled]
    assert [(e.instance_of.master_id, e.instance_of.original_start) for e in exceptions] == [  # type: ignore[union-attr]
        (series["id"], datetime(2026, 10, 22, 10, 0, tzinfo=berlin))
    ]
    assert isinstance(exceptions[0].span, Timed) and exceptions[0].span.start == datetime(
        2026, 10, 22, 15, 0, tzinfo=berlin
    )
    cancelled = [c.event for c in changes if c.event.status is EventStatus.CANCELLED]
    assert [(e.instance_of.master_id, e.instance_of.original_start) for e in cancelled] == [  # type: ignore[union-attr]
        (series["id"], datetime(2026, 10, 27, 10, 0, tzinfo=berlin))
    ]
    assert len([c for c in changes if c.event.extra.get("graph_type") == "occurrence"]) == 0


async def _occurrences(graph: GraphCalendar, series_id: str) -> dict[str, str]:
    """Occurrence ids by original start (UTC), listed the way any Graph client lists them (Graph
    says an instance's originalStart only when it is selected)."""
    builder = graph.client.user(ALICE).events.by_event_id(series_id).instances
    window = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time="2026-10-01T00:00:00Z", end_date_time="2026-11-30T00:00:00Z", select=["originalStart"]
    )
    answer = await graph.client.send(
        builder.to_get_request_information(RequestConfiguration(query_parameters=window))
    )
    return {row["originalStart"]: row["id"] for row in answer["value"]}


async def test_given_a_whole_series_deleted_when_syncing_then_its_master_is_reported_removed(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    series = await graph_control.create_event(
        ALICE,
        {
            "subject": "Weekly",
            **timed("2026-12-01", "10:00", "10:30"),
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": ["tuesday"],
                    "firstDayOfWeek": "monday",
                },
                "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": 4},
            },
        },
    )
    _, cursor = await drain(graph, None)
    await graph_control.delete_event(ALICE, series["id"])
    pages, after = await drain(graph, cursor)
    assert Removed(series["id"]) in flat(pages)
    pages, _ = await drain(graph, after)
    assert flat(pages) == []  # reported once; the series is forgotten


async def test_given_a_mirror_updated_by_the_adapter_when_syncing_then_its_echo_needs_no_read(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    mirror = await graph.create(HERE, meeting("Mirror"), stamp())
    _, cursor = await drain(graph, None)
    updated = await graph.update(HERE, mirror.event.id, meeting("Moved on"), stamp())
    before = await graph_gets(control)
    pages, _ = await drain(graph, cursor)
    (seen,) = [c for c in flat(pages) if isinstance(c, Fetched)]
    assert seen.version == updated.version and seen.stamp == stamp() and seen.event.title == "Moved on"
    assert await graph_gets(control) - before == 0  # the write's own marks, at the write's changeKey
