"""Google event resources -> Event, and Event -> Google body -> (as Google returns it) -> Event."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from fixture_corpus import load, names
from provider_echo import google_echo

from calbridge.model import (
    AllDay,
    Attendee,
    EventStatus,
    InstanceOf,
    MeetingProvider,
    OnlineMeeting,
    Response,
    Sensitivity,
    ShowAs,
    Timed,
    content_hash,
)
from calbridge.providers.base import MirrorStamp
from calbridge.providers.google.translate import fetched_from_google, google_body
from calbridge.translate.stamps import GOOGLE_PAIR_KEY, GOOGLE_SOURCE_KEY

STAMP = MirrorStamp(pair_id="pair-7", source_id="AAMkAGIAAAoZDOFAAA=")


def test_given_a_timed_event_the_day_after_dst_when_read_then_local_nine_oclock_in_paris() -> None:
    fetched = fetched_from_google(load("google", "timed_after_dst"))
    span = fetched.event.span
    assert isinstance(span, Timed)
    assert span.zone == "Europe/Paris"
    assert span.start == datetime(2025, 3, 31, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert span.start.utcoffset() is not None and span.start.utcoffset().total_seconds() == 7200
    assert fetched.version == '"3482950123456000"'
    assert fetched.updated is not None and fetched.updated.tzinfo is not None
    assert fetched.stamp is None
    assert fetched.event.description is not None and fetched.event.description.html
    assert fetched.event.reminders == (10,)


def test_given_all_day_events_when_read_then_dates_with_exclusive_end() -> None:
    single = fetched_from_google(load("google", "all_day_single")).event
    multi = fetched_from_google(load("google", "all_day_multi")).event
    assert single.span == AllDay(date(2025, 3, 30), date(2025, 3, 31))
    assert single.show_as is ShowAs.FREE
    assert single.reminders is None  # useDefault: the calendar's own default
    assert multi.span == AllDay(date(2025, 10, 24), date(2025, 10, 28))
    assert multi.reminders == (60,)  # the pop-up; the e-mail reminder is not one Outlook can show


def test_given_a_weekly_series_with_an_exdate_when_read_then_the_lines_are_kept_verbatim() -> None:
    event = fetched_from_google(load("google", "recurring_weekly")).event
    assert event.recurrence is not None
    assert set(event.recurrence.rules) == {
        "EXDATE;TZID=America/Los_Angeles:20250120T093000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20250630T065959Z",
    }
    assert [a.address for a in event.attendees] == [
        "alice@example.com",
        "carol@partner.example",
        "c_1888abcd@resource.calendar.google.com",
    ]
    assert event.attendees[1].optional and event.attendees[2].resource


def test_given_a_moved_instance_when_read_then_it_points_at_its_series_and_original_start() -> None:
    event = fetched_from_google(load("google", "recurring_exception")).event
    assert event.instance_of == InstanceOf(
        "5q6r7s8t9u0v1a2b3c4d", datetime(2025, 1, 13, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    )


def test_given_a_cancelled_instance_stub_when_read_then_a_cancelled_occurrence_of_the_series() -> None:
    event = fetched_from_google(load("google", "cancelled_instance")).event
    assert event.cancelled
    assert event.instance_of is not None and event.instance_of.master_id == "5q6r7s8t9u0v1a2b3c4d"
    assert event.span.start == datetime(2025, 1, 20, 17, 30, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("name", "show_as", "sensitivity", "status"),
    [
        ("out_of_office", ShowAs.OOF, Sensitivity.NORMAL, EventStatus.CONFIRMED),
        ("working_location", ShowAs.WORKING_ELSEWHERE, Sensitivity.NORMAL, EventStatus.CONFIRMED),
        ("private_free", ShowAs.FREE, Sensitivity.PRIVATE, EventStatus.TENTATIVE),
    ],
)
def test_given_event_types_and_visibility_when_read_then_show_as_sensitivity_and_status(
    name: str, show_as: ShowAs, sensitivity: Sensitivity, status: EventStatus
) -> None:
    event = fetched_from_google(load("google", name)).event
    assert (event.show_as, event.sensitivity, event.status) == (show_as, sensitivity, status)


def test_given_a_meet_conference_when_read_then_the_video_join_url() -> None:
    event = fetched_from_google(load("google", "meet_with_attendees")).event
    assert event.online_meeting == OnlineMeeting(
        MeetingProvider.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij"
    )
    assert [a.response for a in event.attendees] == [Response.TENTATIVE, Response.DECLINED]


@pytest.mark.parametrize("name", [n for n in names("google") if n != "cancelled_instance"])
def test_given_each_fixture_when_read_written_and_read_back_then_the_same_meeting(name: str) -> None:
    original = fetched_from_google(load("google", name)).event
    body = google_body(original, STAMP, detail="full")
    again = fetched_from_google(google_echo(body))
    assert content_hash(again.event) == content_hash(original)
    assert again.event.title == original.title
    assert again.event.attendees == original.attendees
    assert again.event.organizer == original.organizer
    assert again.event.online_meeting == original.online_meeting
    assert again.stamp == STAMP


@pytest.mark.parametrize("name", ["timed_after_dst", "all_day_multi", "recurring_weekly", "private_free"])
def test_given_a_plain_fixture_when_written_then_the_body_repeats_its_google_fields(name: str) -> None:
    source = load("google", name)
    body = google_body(fetched_from_google(source).event, STAMP, detail="full")
    for key in ("summary", "location", "transparency"):
        if key in source:
            assert body[key] == source[key], key
    for key in ("start", "end"):
        assert body[key].get("timeZone") == source[key].get("timeZone")
        assert body[key].get("date") == source[key].get("date")
        if "dateTime" in source[key]:
            assert datetime.fromisoformat(body[key]["dateTime"]) == datetime.fromisoformat(
                source[key]["dateTime"]
            )
    overrides = source["reminders"].get("overrides", [])
    minutes = sorted(o["minutes"] for o in overrides if o["method"] == "popup")
    assert sorted(o["minutes"] for o in body["reminders"].get("overrides", [])) == minutes
    assert body["reminders"]["useDefault"] == source["reminders"]["useDefault"]
    if "recurrence" in source:
        assert sorted(body["recurrence"]) == sorted(source["recurrence"])
    assert body["extendedProperties"]["private"][GOOGLE_PAIR_KEY] == "pair-7"
    assert body["extendedProperties"]["private"][GOOGLE_SOURCE_KEY] == STAMP.source_id


def test_given_an_event_with_attendees_when_written_then_no_guest_list_but_a_readable_note() -> None:
    event = fetched_from_google(load("google", "meet_with_attendees")).event
    body = google_body(event, STAMP, detail="full")
    assert "attendees" not in body
    assert "conferenceData" not in body
    assert "dev@example.com" in body["description"]
    assert "https://meet.google.com/abc-defg-hij" in body["description"]


def test_given_the_guests_flag_when_written_then_attendees_are_listed_without_inviting_others() -> None:
    event = fetched_from_google(load("google", "meet_with_attendees")).event
    body = google_body(event, STAMP, detail="full", guests=True)
    assert [a["email"] for a in body["attendees"]] == [a.address for a in event.attendees]
    assert body["guestsCanInviteOthers"] is False
    assert "dev@example.com" not in body.get("description", "")


def test_given_google_lists_the_organizer_as_an_attendee_when_read_then_only_the_guests_are_attendees() -> (
    None
):
    event = fetched_from_google(load("google", "meet_with_attendees")).event
    assert event.organizer is not None and event.organizer.address == "alice@example.com"
    assert [a.address for a in event.attendees] == ["dev@example.com", "erin@partner.example"]
    note = google_body(event, STAMP, detail="full")["description"]
    assert "Attendees: Dev Patel <dev@example.com>, erin@partner.example" in note


def test_given_a_guest_copy_when_read_then_the_organizer_is_not_a_guest_but_the_owner_is() -> None:
    item = load("google", "meet_with_attendees")
    item["organizer"] = {"email": "Bob@Example.com", "displayName": "Bob Stone"}
    item["attendees"] = [
        {"email": "bob@example.com", "responseStatus": "accepted"},  # no flag, the address says it
        {"email": "alice@example.com", "self": True, "responseStatus": "tentative"},
    ]
    event = fetched_from_google(item).event
    assert [(a.address, a.response) for a in event.attendees] == [("alice@example.com", Response.TENTATIVE)]


def test_given_guests_when_written_and_google_adds_the_organizer_then_read_back_unchanged() -> None:
    from dataclasses import replace

    event = fetched_from_google(load("google", "meet_with_attendees")).event
    organizer = event.organizer
    assert organizer is not None
    listed = replace(
        event, attendees=(Attendee(organizer.address, None, Response.ACCEPTED), *event.attendees)
    )
    body = google_body(listed, STAMP, detail="full", guests=True)
    assert [a["email"] for a in body["attendees"]] == ["dev@example.com", "erin@partner.example"]
    echoed = google_echo(body)
    assert sum(1 for a in echoed["attendees"] if a.get("organizer")) == 1  # Google added them
    assert fetched_from_google(echoed).event.attendees == event.attendees


def test_given_oof_and_personal_when_written_to_google_then_projected_and_restored_from_facts() -> None:
    event = fetched_from_google(load("google", "out_of_office")).event
    from dataclasses import replace

    personal = replace(event, sensitivity=Sensitivity.PERSONAL, show_as=ShowAs.TENTATIVE)
    body = google_body(personal, STAMP, detail="full")
    assert (body["transparency"], body["visibility"]) == ("opaque", "private")
    assert "eventType" not in body  # never an outOfOffice event: it would auto-decline meetings
    again = fetched_from_google(google_echo(body)).event
    assert (again.show_as, again.sensitivity) == (ShowAs.TENTATIVE, Sensitivity.PERSONAL)


def test_given_a_person_edits_the_mirror_when_read_then_the_visible_value_wins_over_the_fact() -> None:
    event = fetched_from_google(load("google", "out_of_office")).event
    echoed = google_echo(google_body(event, STAMP, detail="full"))
    echoed["transparency"] = "transparent"
    echoed["visibility"] = "confidential"
    again = fetched_from_google(echoed).event
    assert (again.show_as, again.sensitivity) == (ShowAs.FREE, Sensitivity.CONFIDENTIAL)


def test_given_more_than_five_reminders_when_written_then_the_five_earliest_as_popups() -> None:
    from dataclasses import replace

    event = replace(
        fetched_from_google(load("google", "timed_after_dst")).event, reminders=(1, 5, 10, 30, 60, 1440)
    )
    overrides = google_body(event, STAMP, detail="full")["reminders"]["overrides"]
    assert [o["minutes"] for o in overrides] == [5, 10, 30, 60, 1440]
    assert {o["method"] for o in overrides} == {"popup"}


def test_given_a_bare_cancelled_event_when_read_then_a_cancelled_event_without_a_series() -> None:
    fetched = fetched_from_google(
        {"kind": "calendar#event", "etag": '"1"', "id": "gone00001", "status": "cancelled"}
    )
    assert fetched.event.cancelled
    assert fetched.event.instance_of is None


def test_given_a_cancelled_instance_when_written_then_google_gets_status_cancelled() -> None:
    from dataclasses import replace

    event = replace(
        fetched_from_google(load("google", "recurring_exception")).event, status=EventStatus.CANCELLED
    )
    assert google_body(event, STAMP, detail="full")["status"] == "cancelled"
