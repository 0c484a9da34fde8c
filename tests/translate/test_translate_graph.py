"""Graph event resources -> Event, and Event -> Graph body -> (as Graph returns it) -> Event."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from fixture_corpus import load, names
from provider_echo import graph_echo

from calbridge.model import (
    AllDay,
    EventStatus,
    InstanceOf,
    OnlineMeeting,
    Sensitivity,
    ShowAs,
    Timed,
    content_hash,
)
from calbridge.providers.base import MirrorStamp
from calbridge.providers.graph.translate import GRAPH_SELECT, fetched_from_graph, graph_body
from calbridge.translate import TranslationError, UnsupportedRecurrence
from calbridge.translate.stamps import GRAPH_PAIR_PROPERTY_ID, GRAPH_SOURCE_PROPERTY_ID

STAMP = MirrorStamp(pair_id="pair-7", source_id="0k8s6c1g5r1q2l3m4n5o6p7q8r")


def test_given_a_windows_zone_response_when_read_then_wall_time_in_that_zone() -> None:
    fetched = fetched_from_graph(load("graph", "timed_w_europe"))
    span = fetched.event.span
    assert isinstance(span, Timed)
    assert span.zone == "Europe/Berlin"
    assert span.start == datetime(2025, 3, 31, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert fetched.version == "ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw=="
    # lastModifiedDateTime "…09:00:01.1234567Z": kept to the microsecond, never cut to the second
    assert fetched.updated == datetime(2025, 3, 21, 9, 0, 1, 123456, tzinfo=ZoneInfo("UTC"))
    assert fetched.updated_precision == timedelta(microseconds=1)
    assert fetched.event.description is not None
    assert fetched.event.description.content == "<div>Minutes from last time attached.</div>"
    assert fetched.event.location == "Raum 2.01"


def test_given_a_utc_response_when_read_then_the_original_zone_is_the_events_zone() -> None:
    event = fetched_from_graph(load("graph", "timed_utc_pacific")).event
    assert isinstance(event.span, Timed)
    assert event.span.zone == "America/Los_Angeles"
    assert event.span.start == datetime(2025, 11, 3, 9, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert event.show_as is ShowAs.TENTATIVE
    assert event.reminders == (30,)


def test_given_all_day_events_read_in_utc_when_read_then_the_dates_never_shift() -> None:
    india = fetched_from_graph(load("graph", "all_day_india")).event
    assert india.span == AllDay(date(2025, 10, 20), date(2025, 10, 21))
    assert india.show_as is ShowAs.OOF
    assert india.reminders == ()
    multi = fetched_from_graph(load("graph", "all_day_multi")).event
    assert multi.span == AllDay(date(2025, 10, 24), date(2025, 10, 28))
    assert multi.show_as is ShowAs.WORKING_ELSEWHERE


def test_given_a_series_master_when_read_then_a_canonical_rrule() -> None:
    event = fetched_from_graph(load("graph", "series_weekly")).event
    assert event.recurrence is not None
    # 26 June 23:59:59 in Los Angeles (daylight time) is 06:59:59 UTC on the 27th.
    assert event.recurrence.rules == (
        "RRULE:FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH;UNTIL=20250627T065959Z",
    )
    monthly = fetched_from_graph(load("graph", "relative_monthly")).event
    assert monthly.recurrence is not None
    assert monthly.recurrence.rules == ("RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=12",)
    assert monthly.sensitivity is Sensitivity.PRIVATE


def test_given_an_exception_when_read_then_it_points_at_its_master_and_original_start() -> None:
    event = fetched_from_graph(load("graph", "exception")).event
    assert event.instance_of == InstanceOf(
        "AAMkAGIAAAoZDOFEEE=", datetime(2025, 1, 21, 18, tzinfo=ZoneInfo("UTC"))
    )
    assert event.recurrence is None


def test_given_an_exception_read_without_its_original_start_when_read_then_it_is_refused() -> None:
    # Graph leaves originalStart out unless it is selected. The exception's own start is not its
    # slot: taken as the slot, the slot would look cancelled and be deleted on the other side.
    item = load("graph", "exception")
    del item["originalStart"]
    with pytest.raises(TranslationError):
        fetched_from_graph(item)
    slot = datetime(2025, 1, 21, 18, tzinfo=ZoneInfo("UTC"))
    told = fetched_from_graph(item, original_start=slot).event  # a write's answer: the caller knows
    assert told.instance_of == InstanceOf("AAMkAGIAAAoZDOFEEE=", slot)


def test_given_an_unchanged_occurrence_without_its_original_start_when_read_then_its_start_is_its_slot() -> (
    None
):
    item = load("graph", "exception") | {"type": "occurrence"}
    del item["originalStart"]
    event = fetched_from_graph(item).event
    assert event.instance_of is not None and event.instance_of.original_start == event.span.start


class _Reads(dict[str, Any]):
    """An answer that notes which of its properties were read."""

    def __init__(self, item: dict[str, Any], seen: set[str]) -> None:
        super().__init__(item)
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def test_given_every_payload_when_read_then_only_selected_properties_are_read() -> None:
    # A $select answers only what it names: a property read but not selected would be missing.
    seen: set[str] = set()
    for name in names("graph"):
        fetched_from_graph(_Reads(load("graph", name), seen))
    always = {"id", "@odata.etag", "singleValueExtendedProperties"}  # and what $expand asked for
    assert seen - always <= set(GRAPH_SELECT)
    assert "originalStart" in seen


def test_given_a_cancelled_occurrence_when_read_then_a_cancelled_instance() -> None:
    event = fetched_from_graph(load("graph", "cancelled_occurrence")).event
    assert event.status is EventStatus.CANCELLED
    assert event.instance_of is not None and event.instance_of.master_id == "AAMkAGIAAAoZDOFEEE="


def test_given_a_teams_meeting_when_read_then_join_url_and_attendees_by_kind() -> None:
    event = fetched_from_graph(load("graph", "teams_meeting")).event
    assert event.online_meeting is not None
    assert event.online_meeting.provider == "teamsForBusiness"
    assert event.online_meeting.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert [(a.address, a.optional, a.resource) for a in event.attendees] == [
        ("jo@vendor.example", False, False),
        ("kim@contoso.example", True, False),
        ("thames@contoso.example", False, True),
    ]
    assert isinstance(event.span, Timed) and event.span.zone == "Europe/London"  # an IANA name from Graph


def test_given_an_outlook_custom_zone_when_read_then_instants_stay_exact_with_a_warning() -> None:
    item = load("graph", "timed_utc_pacific")
    item["originalStartTimeZone"] = "tzone://Microsoft/Custom"
    with structlog.testing.capture_logs() as logs:
        event = fetched_from_graph(item).event
    assert isinstance(event.span, Timed)
    assert event.span.zone == "UTC"
    assert event.span.start == datetime(2025, 11, 3, 17, tzinfo=ZoneInfo("UTC"))
    assert any(entry["event"] == "translate.zone_unknown" for entry in logs)


def test_given_a_labelled_series_with_a_named_recurrence_zone_when_read_then_that_zone() -> None:
    item = load("graph", "series_weekly")
    item["originalStartTimeZone"] = item["originalEndTimeZone"] = "tzone://Microsoft/Custom"
    with structlog.testing.capture_logs() as logs:
        event = fetched_from_graph(item).event
    assert isinstance(event.span, Timed) and event.span.zone == "America/Los_Angeles"
    assert event.span.start == datetime(2025, 1, 7, 10, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert not any(entry["event"] == "translate.zone_unknown" for entry in logs)


def test_given_a_labelled_series_when_its_zone_is_passed_then_the_series_is_read_in_it() -> None:
    # Both names are labels; the adapter passes the zone the series' slots show (graph_labels).
    item = load("graph", "series_weekly")
    item["originalStartTimeZone"] = item["originalEndTimeZone"] = "Customized Time Zone"
    item["recurrence"]["range"]["recurrenceTimeZone"] = "Customized Time Zone"
    event = fetched_from_graph(item, zone="America/Los_Angeles").event
    assert isinstance(event.span, Timed) and event.span.zone == "America/Los_Angeles"
    assert event.recurrence == fetched_from_graph(load("graph", "series_weekly")).event.recurrence


def test_given_outlooks_utc_label_when_read_then_utc_without_a_warning() -> None:
    item = load("graph", "timed_w_europe")
    item["originalStartTimeZone"] = item["originalEndTimeZone"] = "tzone://Microsoft/Utc"
    with structlog.testing.capture_logs() as logs:
        event = fetched_from_graph(item).event
    assert isinstance(event.span, Timed) and event.span.zone == "UTC"
    assert logs == []


@pytest.mark.parametrize("name", [n for n in names("graph") if n != "cancelled_occurrence"])
def test_given_each_fixture_when_read_written_and_read_back_then_the_same_meeting(name: str) -> None:
    original = fetched_from_graph(load("graph", name)).event
    body = graph_body(original, STAMP, detail="full")
    again = fetched_from_graph(graph_echo(body))
    assert content_hash(again.event) == content_hash(original)
    assert again.event.attendees == original.attendees
    assert again.event.online_meeting == original.online_meeting
    assert again.stamp == STAMP


@pytest.mark.parametrize("name", ["timed_w_europe", "all_day_multi", "series_weekly", "private_confidential"])
def test_given_a_plain_fixture_when_written_then_the_body_repeats_its_graph_fields(name: str) -> None:
    source = load("graph", name)
    body = graph_body(fetched_from_graph(source).event, STAMP, detail="full")
    for key in ("subject", "showAs", "sensitivity", "isAllDay", "isReminderOn"):
        assert body[key] == source[key], key
    assert body["location"]["displayName"] == source["location"]["displayName"]
    if source.get("recurrence"):
        assert body["recurrence"]["pattern"]["daysOfWeek"] == source["recurrence"]["pattern"]["daysOfWeek"]
        assert body["recurrence"]["range"]["endDate"] == source["recurrence"]["range"]["endDate"]
    ids = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
    assert ids[GRAPH_PAIR_PROPERTY_ID] == "pair-7"
    assert ids[GRAPH_SOURCE_PROPERTY_ID] == STAMP.source_id


def test_given_paris_nine_oclock_after_dst_when_written_then_wall_time_in_the_windows_zone() -> None:
    start = datetime(2025, 3, 31, 9, tzinfo=ZoneInfo("Europe/Paris"))
    event = replace(
        fetched_from_graph(load("graph", "timed_w_europe")).event,
        span=Timed(start, start.replace(hour=10), "Europe/Paris"),
        recurrence=None,
    )
    body = graph_body(event, STAMP, detail="full")
    assert body["start"] == {"dateTime": "2025-03-31T09:00:00.0000000", "timeZone": "Romance Standard Time"}
    assert body["end"] == {"dateTime": "2025-03-31T10:00:00.0000000", "timeZone": "Romance Standard Time"}


def test_given_a_weekly_series_across_dst_when_written_then_the_pattern_is_in_the_series_zone() -> None:
    start = datetime(2025, 3, 24, 9, tzinfo=ZoneInfo("Europe/Paris"))  # the Monday before DST
    event = replace(
        fetched_from_graph(load("graph", "timed_w_europe")).event,
        span=Timed(start, start.replace(hour=10), "Europe/Paris"),
        recurrence=__import__("calbridge.model", fromlist=["Recurrence"]).Recurrence(
            ("RRULE:FREQ=WEEKLY;BYDAY=MO",)
        ),
    )
    body = graph_body(event, STAMP, detail="full")
    assert body["start"]["dateTime"].startswith("2025-03-24T09:00")
    assert body["recurrence"]["range"]["recurrenceTimeZone"] == "Romance Standard Time"


def test_given_an_all_day_event_when_written_then_midnight_to_midnight_in_the_mailbox_zone() -> None:
    event = fetched_from_graph(load("graph", "all_day_india")).event
    body = graph_body(event, STAMP, detail="full", all_day_zone="Asia/Kolkata")
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2025-10-20T00:00:00.0000000", "timeZone": "India Standard Time"}
    assert body["end"] == {"dateTime": "2025-10-21T00:00:00.0000000", "timeZone": "India Standard Time"}


def test_given_a_zone_without_a_windows_name_when_written_then_utc_instants_with_a_warning() -> None:
    event = fetched_from_graph(load("graph", "timed_utc_pacific")).event
    start = datetime(2025, 11, 3, 9, tzinfo=ZoneInfo("Antarctica/Troll"))
    odd = replace(event, span=Timed(start, start.replace(hour=10), "Antarctica/Troll"))
    with structlog.testing.capture_logs() as logs:
        body = graph_body(odd, STAMP, detail="full")
    assert body["start"]["timeZone"] == "UTC"
    assert datetime.fromisoformat(body["start"]["dateTime"][:19]).replace(tzinfo=ZoneInfo("UTC")) == start
    assert any(entry["event"] == "translate.zone_unmapped" for entry in logs)


def test_given_a_series_in_a_zone_without_a_windows_name_when_written_then_unsupported() -> None:
    from calbridge.model import Recurrence

    event = fetched_from_graph(load("graph", "timed_utc_pacific")).event
    start = datetime(2025, 11, 3, 9, tzinfo=ZoneInfo("Antarctica/Troll"))
    odd = replace(
        event,
        span=Timed(start, start.replace(hour=10), "Antarctica/Troll"),
        recurrence=Recurrence(("RRULE:FREQ=DAILY",)),
    )
    with pytest.raises(UnsupportedRecurrence):
        graph_body(odd, STAMP, detail="full")


def test_given_a_tentative_status_when_written_then_kept_as_a_fact_and_read_back() -> None:
    event = replace(fetched_from_graph(load("graph", "timed_w_europe")).event, status=EventStatus.TENTATIVE)
    again = fetched_from_graph(graph_echo(graph_body(event, STAMP, detail="full"))).event
    assert again.status is EventStatus.TENTATIVE


def test_given_several_reminders_when_written_then_the_earliest_and_the_list_read_back() -> None:
    event = replace(fetched_from_graph(load("graph", "timed_w_europe")).event, reminders=(10, 60))
    body = graph_body(event, STAMP, detail="full")
    assert (body["isReminderOn"], body["reminderMinutesBeforeStart"]) == (True, 60)
    assert fetched_from_graph(graph_echo(body)).event.reminders == (10, 60)
    body_edited = graph_echo(body)
    body_edited["reminderMinutesBeforeStart"] = 5  # a person changed the mirror's reminder
    assert fetched_from_graph(body_edited).event.reminders == (5,)


def test_given_the_default_reminder_when_written_then_graph_is_told_nothing() -> None:
    event = replace(fetched_from_graph(load("graph", "timed_w_europe")).event, reminders=None)
    body = graph_body(event, STAMP, detail="full")
    assert "isReminderOn" not in body and "reminderMinutesBeforeStart" not in body
    assert fetched_from_graph(graph_echo(body)).event.reminders is None


def test_given_a_teams_meeting_when_mirrored_then_no_new_conference_and_the_link_stays_readable() -> None:
    event = fetched_from_graph(load("graph", "teams_meeting")).event
    body = graph_body(event, STAMP, detail="full")
    assert body["isOnlineMeeting"] is False
    assert "onlineMeeting" not in body and "onlineMeetingProvider" not in body
    assert event.online_meeting is not None
    assert event.online_meeting.join_url in body["body"]["content"].replace("&amp;", "&")
    assert fetched_from_graph(graph_echo(body)).event.online_meeting == OnlineMeeting(
        "teamsForBusiness", event.online_meeting.join_url
    )


def test_given_a_cancelled_event_when_written_to_graph_then_refused_because_it_is_a_delete() -> None:
    from calbridge.translate import TranslationError

    event = fetched_from_graph(load("graph", "cancelled_occurrence")).event
    with pytest.raises(TranslationError):
        graph_body(event, STAMP, detail="full")


def test_given_graph_event_types_when_read_then_the_type_is_a_hint_outside_the_hash() -> None:
    exception = fetched_from_graph(load("graph", "exception")).event
    occurrence_item = load("graph", "exception") | {"type": "occurrence"}
    occurrence = fetched_from_graph(occurrence_item).event
    assert (exception.extra["graph_type"], occurrence.extra["graph_type"]) == ("exception", "occurrence")
    assert content_hash(exception) == content_hash(occurrence)
