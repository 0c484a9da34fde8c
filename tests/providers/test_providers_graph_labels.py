"""Outlook's zone labels: a series' zone from its own slots (pure), and a labelled series read
through the real msgraph-sdk against the sandbox, as the change feed and `get` read it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from providers_support import ALICE

from calbridge.model import AllDay, EventStatus, Timed
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.labels import needs_home_zone, needs_series_zone, zone_from_slots
from sandbox.graph import GraphControl

HERE = CalendarAddress(ALICE)
BERLIN = ZoneInfo("Europe/Berlin")
LABELS = ["tzone://Microsoft/Custom", "Customized Time Zone"]


def mondays(first: date, count: int, hour: int, zone: ZoneInfo) -> list[datetime]:
    return [
        datetime.combine(first + timedelta(weeks=n), datetime.min.time(), zone).replace(hour=hour)
        for n in range(count)
    ]


# -- pure --------------------------------------------------------------------------------------


def test_given_slots_across_a_dst_change_when_inferring_then_the_zone_keeps_their_local_hour() -> None:
    slots = [s.astimezone(UTC) for s in mondays(date(2026, 10, 12), 5, 9, BERLIN)]
    zone = zone_from_slots(slots, all_day=False)
    assert zone is not None  # which zone is a guess; that it changes offset with the series is not
    assert all(s.astimezone(ZoneInfo(zone)).utcoffset() == s.astimezone(BERLIN).utcoffset() for s in slots)
    assert zone == "Europe/Berlin"  # of the zones that fit, the one CLDR maps the most places to


def test_given_slots_at_one_utc_time_when_inferring_then_utc_and_no_invented_dst() -> None:
    slots = [datetime(2026, 11, 2, 8, tzinfo=UTC) + timedelta(weeks=n) for n in range(4)]
    assert zone_from_slots(slots, all_day=False) == "UTC"


def test_given_all_day_slots_when_inferring_then_each_is_midnight_in_the_zone() -> None:
    slots = [
        datetime.combine(date(2026, 10, 20) + timedelta(days=n), datetime.min.time(), BERLIN)
        for n in range(10)
    ]
    zone = zone_from_slots([s.astimezone(UTC) for s in slots], all_day=True)
    assert zone is not None and zone != "UTC"
    assert {s.astimezone(ZoneInfo(zone)).time() for s in slots} == {datetime.min.time()}


def test_given_no_slots_or_no_fitting_zone_when_inferring_then_none() -> None:
    assert zone_from_slots([], all_day=False) is None
    assert zone_from_slots([datetime(2026, 11, 2, 8, 17, tzinfo=UTC)], all_day=True) is None


@pytest.mark.parametrize(
    ("item", "needs"),
    [
        ({"type": "seriesMaster", "originalStartTimeZone": "tzone://Microsoft/Custom"}, True),
        ({"type": "exception", "originalStartTimeZone": "Customized Time Zone"}, True),
        ({"type": "seriesMaster", "originalStartTimeZone": "W. Europe Standard Time"}, False),
        (
            {
                "type": "seriesMaster",
                "originalStartTimeZone": "tzone://Microsoft/Custom",
                "recurrence": {"range": {"recurrenceTimeZone": "W. Europe Standard Time"}},
            },
            False,
        ),
        ({"type": "seriesMaster", "originalStartTimeZone": "tzone://Microsoft/Utc"}, False),
        ({"type": "singleInstance", "originalStartTimeZone": "tzone://Microsoft/Custom"}, False),
    ],
)
def test_given_an_item_when_asking_then_only_a_labelled_series_needs_its_zone(
    item: dict[str, Any], needs: bool
) -> None:
    assert needs_series_zone(item) is needs


# -- through the adapter -----------------------------------------------------------------------


def weekly(label: str, *, all_day: bool = False) -> dict[str, Any]:
    """Five Mondays from 2026-10-12, 09:00 in Berlin (across the October DST change), as a
    person's desktop Outlook with a custom zone records them."""
    if all_day:
        start = {"dateTime": "2026-10-12T00:00:00", "timeZone": "W. Europe Standard Time"}
        end = {"dateTime": "2026-10-13T00:00:00", "timeZone": "W. Europe Standard Time"}
    else:
        start = {"dateTime": "2026-10-12T09:00:00", "timeZone": "W. Europe Standard Time"}
        end = {"dateTime": "2026-10-12T09:30:00", "timeZone": "W. Europe Standard Time"}
    return {
        "subject": "Weekly",
        "isAllDay": all_day,
        "start": start,
        "end": end,
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2026-10-12", "numberOfOccurrences": 5},
        },
        "originalStartTimeZone": label,
    }


@pytest.mark.integration
@pytest.mark.parametrize("label", LABELS)
async def test_given_a_labelled_series_across_dst_when_syncing_then_it_keeps_its_hour_and_loses_nothing(
    graph: GraphCalendar, graph_control: GraphControl, label: str
) -> None:
    made = await graph_control.create_event(ALICE, weekly(label))
    later = {"dateTime": "2026-11-02T15:00:00", "timeZone": "W. Europe Standard Time"}
    await graph_control.update_occurrence(
        ALICE,
        made["id"],
        "2026-11-02T08:00:00Z",
        {"start": later, "end": {**later, "dateTime": "2026-11-02T15:30:00"}},
    )

    changes = [c for page in [p async for p in graph.changes(HERE, None)] for c in page.changes]
    fetched = [c for c in changes if isinstance(c, Fetched)]

    # Then no slot is taken for cancelled, and the series keeps 09:00 in Berlin on both sides
    # of the change (a UTC reading would put the later ones at 08:00)
    assert [c.event for c in fetched if c.event.status is EventStatus.CANCELLED] == []
    (master,) = [c.event for c in fetched if c.event.recurrence is not None]
    assert isinstance(master.span, Timed) and master.span.start == datetime(2026, 10, 12, 9, tzinfo=BERLIN)
    series_zone = ZoneInfo(master.span.zone)
    assert all(
        s.astimezone(series_zone).utcoffset() == s.astimezone(BERLIN).utcoffset()
        for s in mondays(date(2026, 10, 12), 5, 9, BERLIN)
    )
    (moved,) = [c.event for c in fetched if c.event.instance_of is not None]
    assert moved.instance_of is not None and moved.instance_of.original_start == datetime(
        2026, 11, 2, 9, tzinfo=BERLIN
    )
    assert isinstance(moved.span, Timed) and moved.span.zone == master.span.zone

    # And read on its own, the series is the same event the feed showed
    got = await graph.get(HERE, made["id"])
    assert got is not None and got.event == master


@pytest.mark.integration
async def test_given_a_labelled_all_day_series_when_syncing_then_its_slots_keep_their_dates(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph_control.create_event(ALICE, weekly("tzone://Microsoft/Custom", all_day=True))
    await graph_control.delete_occurrence(ALICE, made["id"], "2026-10-26")

    changes = [c for page in [p async for p in graph.changes(HERE, None)] for c in page.changes]
    events = [c.event for c in changes if isinstance(c, Fetched)]

    (master,) = [e for e in events if e.recurrence is not None]
    assert master.span == AllDay(date(2026, 10, 12), date(2026, 10, 13))
    cancelled = [
        e.instance_of.original_start for e in events if e.status is EventStatus.CANCELLED and e.instance_of
    ]
    assert cancelled == [date(2026, 10, 26)]


# -- the mailbox's own zone names what a label does not -----------------------------------------


@pytest.mark.parametrize(
    ("item", "needs"),
    [
        ({"type": "singleInstance", "originalStartTimeZone": "tzone://Microsoft/Custom"}, True),
        ({"originalStartTimeZone": "Customized Time Zone"}, True),
        ({"type": "singleInstance", "originalStartTimeZone": "tzone://Microsoft/Utc"}, False),
        ({"type": "singleInstance", "originalStartTimeZone": "Eastern Standard Time"}, False),
        ({"type": "seriesMaster", "originalStartTimeZone": "tzone://Microsoft/Custom"}, False),
    ],
)
def test_given_an_item_when_asking_then_only_a_labelled_single_event_needs_the_mailbox_zone(
    item: dict[str, Any], needs: bool
) -> None:
    assert needs_home_zone(item) is needs


def test_given_summer_slots_when_the_mailbox_zone_fits_then_it_names_the_series() -> None:
    # Five summer Mondays at 09:00 in New York are all 13:00Z: UTC fits them too, and would pin
    # the mirror in UTC, an hour off once New York falls back
    new_york = ZoneInfo("America/New_York")
    slots = [s.astimezone(UTC) for s in mondays(date(2027, 6, 7), 5, 9, new_york)]
    assert zone_from_slots(slots, all_day=False) == "UTC"
    assert zone_from_slots(slots, all_day=False, prefer="America/New_York") == "America/New_York"
    autumn = [s.astimezone(UTC) for s in mondays(date(2026, 10, 12), 5, 9, BERLIN)]
    assert zone_from_slots(autumn, all_day=False, prefer="America/New_York") == "Europe/Berlin"  # no fit


@pytest.mark.integration
async def test_given_a_labelled_single_event_when_read_then_instants_exact_in_the_mailbox_zone(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    # Given: Alice's Outlook is set to New York and her desktop client labels a meeting's zone
    await graph_control.add_mailbox(ALICE, time_zone="Eastern Standard Time")
    made = await graph_control.create_event(
        ALICE,
        {
            "subject": "Custom",
            "start": {"dateTime": "2027-01-05T09:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2027-01-05T10:00:00", "timeZone": "Eastern Standard Time"},
            "originalStartTimeZone": "Customized Time Zone",
        },
    )

    # When: it is read on its own and through the change feed
    read = await graph.get(HERE, made["id"])
    changes = [c for page in [p async for p in graph.changes(HERE, None)] for c in page.changes]

    # Then: the same instant, named by the mailbox's zone instead of UTC
    new_york = ZoneInfo("America/New_York")
    for event in [read.event if read else None, *[c.event for c in changes if isinstance(c, Fetched)]]:
        assert event is not None and isinstance(event.span, Timed)
        assert event.span.zone == "America/New_York"
        assert event.span.start == datetime(2027, 1, 5, 9, tzinfo=new_york)
