"""Calendars, per-calendar event paths and calendarView through the real msgraph-sdk."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import pytest
from graph_harness import ALICE, GraphSandbox, at, graph  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.event import Event
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


async def test_events_written_to_a_secondary_calendar_stay_out_of_the_default_one(
    graph: GraphSandbox,
) -> None:
    user = graph.client().users.by_user_id(ALICE)
    work = await graph.control.add_calendar(ALICE, "Work")
    calendars = await user.calendars.get()
    assert calendars is not None and calendars.value is not None
    assert [(c.name, c.is_default_calendar) for c in calendars.value] == [("Calendar", True), ("Work", False)]

    await user.calendars.by_calendar_id(work["id"]).events.post(
        Event(subject="Work item", start=at("2026-11-23T09:00:00"), end=at("2026-11-23T10:00:00"))
    )
    await user.calendar.events.post(
        Event(subject="Home item", start=at("2026-11-23T11:00:00"), end=at("2026-11-23T12:00:00"))
    )

    default_list = await user.events.get()
    work_list = await user.calendars.by_calendar_id(work["id"]).events.get()
    assert default_list is not None and [e.subject for e in default_list.value or []] == ["Home item"]
    assert work_list is not None and [e.subject for e in work_list.value or []] == ["Work item"]


async def test_calendar_view_lists_what_overlaps_the_window_in_pages(graph: GraphSandbox) -> None:
    user = graph.client().users.by_user_id(ALICE)
    for hour in (8, 9, 10, 15):
        await user.events.post(
            Event(
                subject=f"At {hour}",
                start=at(f"2026-11-23T{hour:02d}:00:00"),
                end=at(f"2026-11-23T{hour:02d}:30:00"),
            )
        )
    config = RequestConfiguration(
        query_parameters=CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time="2026-11-23T08:15:00Z", end_date_time="2026-11-23T12:00:00Z"
        )
    )
    config.headers.add("Prefer", "odata.maxpagesize=2")

    page = await user.calendar_view.get(config)
    assert page is not None and page.odata_next_link
    rest = await user.calendar_view.with_url(page.odata_next_link).get()

    assert rest is not None and rest.odata_next_link is None
    assert [e.subject for e in (page.value or []) + (rest.value or [])] == ["At 8", "At 9", "At 10"]
