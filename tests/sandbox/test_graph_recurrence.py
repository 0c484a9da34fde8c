"""A weekly series with one modified and one cancelled occurrence, read back through `instances`
with the real msgraph-sdk."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import datetime as dt

import pytest
from graph_harness import ALICE, GraphSandbox, at, graph  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.day_of_week import DayOfWeek
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
from msgraph.generated.models.recurrence_pattern import RecurrencePattern
from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
from msgraph.generated.models.recurrence_range import RecurrenceRange
from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


def window(
    start: str, end: str
) -> RequestConfiguration[InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters]:
    return RequestConfiguration(
        query_parameters=InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=start, end_date_time=end
        )
    )


async def test_series_instances_show_the_exception_and_omit_the_cancelled_occurrence(
    graph: GraphSandbox,
) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    series = await events.post(
        Event(
            subject="Weekly sync",
            start=at("2026-11-23T09:00:00", "W. Europe Standard Time"),
            end=at("2026-11-23T09:30:00", "W. Europe Standard Time"),
            recurrence=PatternedRecurrence(
                pattern=RecurrencePattern(
                    type=RecurrencePatternType.Weekly, interval=1, days_of_week=[DayOfWeek.Monday],
                    first_day_of_week=DayOfWeek.Monday,
                ),
                range=RecurrenceRange(
                    type=RecurrenceRangeType.Numbered,
                    start_date=dt.date(2026, 11, 23),
                    number_of_occurrences=4,
                ),
            ),
        )
    )  # fmt: skip
    assert series is not None and series.id and series.type is not None
    assert series.type.value == "seriesMaster"
    first = await events.by_event_id(series.id).instances.get(
        window("2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z")
    )
    assert first is not None and first.value is not None and len(first.value) == 4
    second_id, third_id = first.value[1].id, first.value[2].id
    assert second_id and third_id

    # When one occurrence is moved and renamed, and another is deleted
    await events.by_event_id(second_id).patch(
        Event(subject="Weekly sync (late)", start=at("2026-11-30T15:00:00", "W. Europe Standard Time"),
              end=at("2026-11-30T15:30:00", "W. Europe Standard Time"))
    )  # fmt: skip
    await events.by_event_id(third_id).delete()

    # Then the series shows an exception where the second was, and no third occurrence
    selecting = window("2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert selecting.query_parameters is not None
    selecting.query_parameters.select = ["subject", "start", "end", "type", "seriesMasterId", "originalStart"]
    after = await events.by_event_id(series.id).instances.get(selecting)
    assert after is not None and after.value is not None
    shape = [
        (
            e.type.value if e.type else None,
            e.subject,
            e.start.date_time if e.start else None,
            e.series_master_id,
        )
        for e in after.value
    ]
    assert shape == [
        ("occurrence", "Weekly sync", "2026-11-23T08:00:00.0000000", series.id),
        ("exception", "Weekly sync (late)", "2026-11-30T14:00:00.0000000", series.id),
        ("occurrence", "Weekly sync", "2026-12-14T08:00:00.0000000", series.id),
    ]
    assert after.value[1].original_start == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    with pytest.raises(ODataError) as cancelled:
        await events.by_event_id(third_id).get()
    assert cancelled.value.response_status_code == 404
