"""Recurring events: expansion in the event's zone, instances, exceptions and cancelled ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sandbox_support import call

from sandbox.google.recurrence import instance_id, original_starts, split_instance_id
from sandbox.google.times import EventTime

WEEKLY_ACROSS_DST = {
    "summary": "Weekly sync",
    "start": {"dateTime": "2026-10-15T10:00:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-10-15T10:30:00", "timeZone": "Europe/Berlin"},
    "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
}


def test_given_a_weekly_series_across_the_dst_change_when_expanding_then_wall_clock_time_is_kept() -> None:
    series = {**WEEKLY_ACROSS_DST, "id": "series00001"}
    starts = [s.moment.astimezone(UTC).strftime("%m-%d %H:%M") for s in original_starts(series) if s.moment]
    assert starts == [
        "10-15 08:00",
        "10-22 08:00",
        "10-29 09:00",
        "11-05 09:00",
    ]  # Berlin leaves CEST on 10-25


def test_given_a_date_only_until_with_a_zoned_start_when_expanding_then_the_last_day_is_included() -> None:
    series = {**WEEKLY_ACROSS_DST, "id": "series00001", "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20261017"]}
    assert len(list(original_starts(series))) == 3


def test_given_an_exdate_when_expanding_then_that_occurrence_is_skipped() -> None:
    series = {
        **WEEKLY_ACROSS_DST,
        "id": "series00001",
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20261022T100000"],
    }
    assert len(list(original_starts(series))) == 3


def test_given_two_rrules_an_rdate_and_exdates_when_expanding_then_dateutils_set_comes_back() -> None:
    lines = [
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;COUNT=2",
        "RDATE;TZID=Europe/Berlin:20261020T100000",
        "EXDATE;TZID=Europe/Berlin:20261115T100000",
        "EXDATE:20261231T090000Z",
    ]
    series = {**WEEKLY_ACROSS_DST, "id": "series00001", "recurrence": lines}
    starts = [s.moment.strftime("%Y-%m-%d %H:%M %z") for s in original_starts(series) if s.moment]
    assert starts == [  # Oct 15 is the start (BYMONTHDAY=15), Nov 15 and Dec 31 excluded, Nov 31 none
        "2026-10-15 10:00 +0200",
        "2026-10-20 10:00 +0200",
        "2026-10-31 10:00 +0100",
        "2027-01-31 10:00 +0100",
    ]


def test_given_instance_ids_when_splitting_then_series_and_original_start_come_back() -> None:
    timed = EventTime(None, datetime(2026, 10, 29, 9, 0, tzinfo=UTC), None)
    assert instance_id("abc12", timed) == "abc12_20261029T090000Z"
    assert split_instance_id("abc12_20261029T090000Z") == ("abc12", timed)
    day = EventTime(datetime(2026, 10, 29).date(), None, None)
    assert split_instance_id(instance_id("abc12", day)) == ("abc12", day)
    assert split_instance_id("plainid00") is None


@pytest.mark.integration
async def test_given_a_moved_and_a_cancelled_instance_when_listing_then_google_shapes_hold(
    alice_events: Any,
) -> None:
    series = await call(alice_events.insert(calendarId="primary", body=WEEKLY_ACROSS_DST))
    instances = (await call(alice_events.instances(calendarId="primary", eventId=series["id"])))["items"]
    assert len(instances) == 4
    assert all(i["recurringEventId"] == series["id"] for i in instances)
    assert instances[2]["start"] == {"dateTime": "2026-10-29T10:00:00+01:00", "timeZone": "Europe/Berlin"}

    second, third = instances[1], instances[2]
    moved = await call(
        alice_events.patch(
            calendarId="primary",
            eventId=second["id"],
            body={
                "start": {"dateTime": "2026-10-22T15:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-10-22T15:30:00", "timeZone": "Europe/Berlin"},
            },
        )
    )
    await call(alice_events.delete(calendarId="primary", eventId=third["id"]))

    after = (await call(alice_events.instances(calendarId="primary", eventId=series["id"])))["items"]
    assert [i["id"] for i in after] == [instances[0]["id"], second["id"], instances[3]["id"]]
    assert after[1]["start"]["dateTime"] == "2026-10-22T15:00:00+02:00"
    assert after[1]["originalStartTime"] == {
        "dateTime": "2026-10-22T10:00:00+02:00",
        "timeZone": "Europe/Berlin",
    }
    assert moved["recurringEventId"] == series["id"]

    listing = (await call(alice_events.list(calendarId="primary")))["items"]
    cancelled = [i for i in listing if i["status"] == "cancelled"]
    assert {i["id"] for i in listing} == {series["id"], second["id"], third["id"]}
    assert cancelled == [
        {
            "kind": "calendar#event",
            "etag": cancelled[0]["etag"],
            "id": third["id"],
            "status": "cancelled",
            "recurringEventId": series["id"],
            "originalStartTime": third["originalStartTime"],
        }
    ]

    single = (await call(alice_events.list(calendarId="primary", singleEvents=True, orderBy="startTime")))[
        "items"
    ]
    assert [i["id"] for i in single] == [instances[0]["id"], second["id"], instances[3]["id"]]


@pytest.mark.integration
async def test_given_an_all_day_series_when_syncing_single_events_then_instances_carry_dates(
    alice_events: Any,
) -> None:
    first = await call(alice_events.list(calendarId="primary", singleEvents=True))
    yearly = {
        "summary": "Holiday",
        "start": {"date": "2026-12-24"},
        "end": {"date": "2026-12-25"},
        "recurrence": ["RRULE:FREQ=YEARLY;COUNT=3"],
    }
    series = await call(alice_events.insert(calendarId="primary", body=yearly))

    changes = await call(
        alice_events.list(calendarId="primary", singleEvents=True, syncToken=first["nextSyncToken"])
    )

    assert [i["id"] for i in changes["items"]] == [
        f"{series['id']}_{year}1224" for year in (2026, 2027, 2028)
    ]
    assert changes["items"][1]["start"] == {"date": "2027-12-24"} and changes["items"][1]["end"] == {
        "date": "2027-12-25"
    }
    assert changes["items"][1]["originalStartTime"] == {"date": "2027-12-24"}
