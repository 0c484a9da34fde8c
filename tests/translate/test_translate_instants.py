"""Instants across DST overlaps, and the one reminder Outlook and Exchange keep (pure).

Given the second 01:30 of New York's fall-back night (2027-11-07, `-05:00`, 06:30Z), every
target must hold that instant, not the first 01:30 (05:30Z) its wall time also names. Given a
Google event with a 10-minute pop-up and a 60-minute e-mail reminder, Outlook's one reminder is
the pop-up's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ews_echo import ews_echo
from provider_echo import google_echo, graph_echo

from calbridge.model import Event, Recurrence, Timed, content_hash
from calbridge.providers.base import MirrorStamp
from calbridge.providers.ews.translate import ews_fields, fetched_from_ews
from calbridge.providers.google.translate import email_overrides, fetched_from_google, google_body
from calbridge.providers.graph.translate import fetched_from_graph, graph_body
from calbridge.translate.zones import wall_time_is_ambiguous

NY = "America/New_York"
# Compared in UTC: Python never calls a fold=1 time equal to one in another zone (PEP 495).
STAMP = MirrorStamp(pair_id="pair-7", source_id="src-1")
SECOND_PASS = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 EST, the second 01:30 that night
FIRST_PASS = datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT


def night_meeting(start: datetime = SECOND_PASS, **changes: object) -> Event:
    tz = ZoneInfo(NY)
    span = Timed(start.astimezone(tz), (start + (SECOND_PASS - FIRST_PASS)).astimezone(tz), NY)
    return Event(id="src-1", span=span, title="night shift", **changes)  # type: ignore[arg-type]


def test_given_times_around_fall_back_when_checked_then_only_the_repeated_hour_is_ambiguous() -> None:
    assert wall_time_is_ambiguous(NY, SECOND_PASS)
    assert wall_time_is_ambiguous(NY, FIRST_PASS)
    assert not wall_time_is_ambiguous(NY, datetime(2027, 11, 7, 7, 30, tzinfo=UTC))  # 02:30 EST
    assert not wall_time_is_ambiguous(NY, datetime(2027, 3, 14, 7, 30, tzinfo=UTC))  # 03:30 EDT
    assert not wall_time_is_ambiguous("UTC", SECOND_PASS)


def test_given_the_second_0130_when_written_to_graph_then_utc_and_read_back_as_the_same_meeting() -> None:
    source = night_meeting()
    body = graph_body(source, STAMP, detail="full")
    assert body["start"] == {"dateTime": "2027-11-07T06:30:00.0000000", "timeZone": "UTC"}
    assert body["end"] == {"dateTime": "2027-11-07T07:30:00.0000000", "timeZone": "UTC"}

    read = fetched_from_graph(graph_echo(body)).event
    assert isinstance(read.span, Timed)
    assert read.span.start.astimezone(UTC) == SECOND_PASS
    assert read.span.zone == NY  # the zone comes back from the facts
    assert content_hash(read) == content_hash(source)  # so the mirror is not taken for an edit


def test_given_a_series_starting_at_the_repeated_hour_when_written_to_graph_then_it_keeps_its_zone() -> None:
    series = night_meeting(recurrence=Recurrence(("RRULE:FREQ=WEEKLY;COUNT=3",)))
    body = graph_body(series, STAMP, detail="full")
    assert body["start"]["timeZone"] == "Eastern Standard Time"  # follows New York's DST week to week


def test_given_an_unambiguous_time_when_written_to_graph_then_wall_time_in_the_windows_zone() -> None:
    body = graph_body(night_meeting(datetime(2027, 11, 7, 14, tzinfo=UTC)), STAMP, detail="full")
    assert body["start"] == {"dateTime": "2027-11-07T09:00:00.0000000", "timeZone": "Eastern Standard Time"}


def test_given_the_second_0130_when_written_to_ews_then_its_instant_and_zone_come_back() -> None:
    source = night_meeting()
    fields = ews_fields(source, STAMP, detail="full")
    assert fields["start"].ewsformat() == "2027-11-07T06:30:00Z"  # the instant, in UTC
    assert fields["_start_timezone"].key == NY  # the item's zone stays New York

    read = fetched_from_ews(ews_echo(fields)).event
    assert isinstance(read.span, Timed)
    assert read.span.start.astimezone(UTC) == SECOND_PASS and read.span.zone == NY
    assert content_hash(read) == content_hash(source)


def test_given_the_second_0130_when_written_to_google_then_the_offset_says_which() -> None:
    body = google_body(night_meeting(), STAMP, detail="full")
    assert body["start"] == {"dateTime": "2027-11-07T01:30:00-05:00", "timeZone": NY}
    read = fetched_from_google(google_echo(body)).event
    assert isinstance(read.span, Timed) and read.span.start.astimezone(UTC) == SECOND_PASS


# --- reminders


def google_event(reminders: dict[str, object]) -> dict[str, object]:
    return {
        "id": "g1",
        "summary": "with reminders",
        "start": {"dateTime": "2027-01-05T09:00:00Z"},
        "end": {"dateTime": "2027-01-05T10:00:00Z"},
        "reminders": reminders,
    }


POPUP_AND_EMAIL = {
    "useDefault": False,
    "overrides": [{"method": "popup", "minutes": 10}, {"method": "email", "minutes": 60}],
}


def test_given_a_popup_and_an_email_reminder_when_mirrored_to_outlook_then_the_popups_minutes() -> None:
    event = fetched_from_google(google_event(POPUP_AND_EMAIL)).event
    assert event.reminders == (10,)
    graph = graph_body(event, STAMP, detail="full")
    assert graph["isReminderOn"] is True and graph["reminderMinutesBeforeStart"] == 10
    ews = ews_fields(event, STAMP, detail="full")
    assert ews["reminder_is_set"] is True and ews["reminder_minutes_before_start"] == 10


def test_given_several_popups_when_mirrored_to_outlook_then_the_earliest_popup() -> None:
    reminders = {
        "useDefault": False,
        "overrides": [{"method": "popup", "minutes": 5}, {"method": "popup", "minutes": 30}],
    }
    event = fetched_from_google(google_event(reminders)).event
    assert graph_body(event, STAMP, detail="full")["reminderMinutesBeforeStart"] == 30


def test_given_only_an_email_reminder_when_mirrored_to_outlook_then_no_popup() -> None:
    reminders = {"useDefault": False, "overrides": [{"method": "email", "minutes": 60}]}
    event = fetched_from_google(google_event(reminders)).event
    assert event.reminders == ()
    assert graph_body(event, STAMP, detail="full")["isReminderOn"] is False


def test_given_the_calendar_default_when_mirrored_to_outlook_then_outlooks_own_default_applies() -> None:
    event = fetched_from_google(google_event({"useDefault": True})).event
    assert event.reminders is None
    body = graph_body(event, STAMP, detail="full")
    assert "isReminderOn" not in body and "reminderMinutesBeforeStart" not in body


def test_given_outlooks_one_reminder_when_mirrored_to_google_then_a_popup_override() -> None:
    item = {
        "id": "AAMkAGI2TGuLAAA=",
        "subject": "from outlook",
        "start": {"dateTime": "2027-01-05T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-01-05T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "UTC",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
    }
    event = fetched_from_graph(item).event
    body = google_body(event, STAMP, detail="full")
    assert body["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]}


def test_given_a_google_event_when_its_email_reminders_are_asked_then_only_those() -> None:
    assert email_overrides(google_event(POPUP_AND_EMAIL)) == [{"method": "email", "minutes": 60}]
    assert email_overrides(google_event({"useDefault": True})) == []


def fall_back_instants(zone: str, year: int = 2027) -> list[datetime]:
    """Every quarter hour from two hours before to two hours after each of the zone's
    offset decreases in `year` (its fall-back nights), as UTC instants."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        later = moment + timedelta(hours=1)
        offset, next_offset = moment.astimezone(tz).utcoffset(), later.astimezone(tz).utcoffset()
        assert offset is not None and next_offset is not None
        if next_offset < offset:
            found += [later + timedelta(minutes=15 * step) for step in range(-8, 9)]
        moment = later
    return found


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney", "America/Santiago"]
)
def test_given_every_quarter_hour_around_fall_back_when_mirrored_then_each_target_holds_the_instant(
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    instants = fall_back_instants(zone)
    assert instants
    for start in instants:
        event = Event(
            id="e", span=Timed(start.astimezone(tz), (start + timedelta(minutes=45)).astimezone(tz), zone)
        )
        for read in (
            fetched_from_graph(graph_echo(graph_body(event, STAMP, detail="full"))).event,
            fetched_from_ews(ews_echo(ews_fields(event, STAMP, detail="full"))).event,
            fetched_from_google(google_echo(google_body(event, STAMP, detail="full"))).event,
        ):
            assert isinstance(read.span, Timed)
            assert read.span.start.astimezone(UTC) == start, (zone, start)
            assert content_hash(read) == content_hash(event), (zone, start)
