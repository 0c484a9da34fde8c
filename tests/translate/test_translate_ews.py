# ruff: noqa: E501  (EWS XML fixtures read best on one line per element group)
"""EWS calendar items (as Exchange answers GetItem) -> Event, and Event -> fields -> (as Exchange
returns them) -> Event, through exchangelib's own XML parsing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ews_echo import T, ews_echo
from exchangelib import CalendarItem
from exchangelib.recurrence import RelativeMonthlyPattern
from lxml import etree

from calbridge.model import (
    AllDay,
    Attendee,
    Body,
    Event,
    EventStatus,
    InstanceOf,
    MeetingProvider,
    OnlineMeeting,
    Recurrence,
    Response,
    Sensitivity,
    ShowAs,
    Timed,
    content_hash,
)
from calbridge.providers.base import MirrorStamp
from calbridge.providers.ews.translate import MASTER_ID, ews_fields, fetched_from_ews, item_fields
from calbridge.translate import TranslationError, UnsupportedRecurrence

STAMP = MirrorStamp(pair_id="pair-7", source_id="0k8s6c1g5r1q2l3m4n5o6p7q8r")
BERLIN = ZoneInfo("Europe/Berlin")


def parse(inner: str, master_id: str | None = None) -> dict[str, Any]:
    """A t:CalendarItem as Exchange 2016 answers GetItem (times in UTC, zone by Windows id)."""
    xml = f'<t:CalendarItem xmlns:t="{T[1:-1]}"><t:ItemId Id="AAMkItem1" ChangeKey="DwAAAB"/>{inner}</t:CalendarItem>'
    return item_fields(CalendarItem.from_xml(elem=etree.fromstring(xml), account=None), master_id)


TIMED = """
<t:Subject>Planning</t:Subject><t:Sensitivity>Private</t:Sensitivity>
<t:Body BodyType="HTML">&lt;html&gt;&lt;head&gt;&lt;/head&gt;&lt;body&gt;&lt;div&gt;Agenda&lt;/div&gt;&lt;/body&gt;&lt;/html&gt;</t:Body>
<t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart>
<t:LastModifiedTime>2026-03-21T09:00:01Z</t:LastModifiedTime>
<t:Start>2026-03-30T07:00:00Z</t:Start><t:End>2026-03-30T08:00:00Z</t:End>
<t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Tentative</t:LegacyFreeBusyStatus>
<t:Location>Raum 2.01</t:Location><t:IsCancelled>false</t:IsCancelled><t:CalendarItemType>Single</t:CalendarItemType>
<t:Organizer><t:Mailbox><t:Name>Alice</t:Name><t:EmailAddress>alice@example.com</t:EmailAddress></t:Mailbox></t:Organizer>
<t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@example.com</t:EmailAddress></t:Mailbox>
<t:ResponseType>Accept</t:ResponseType></t:Attendee></t:RequiredAttendees>
<t:OptionalAttendees><t:Attendee><t:Mailbox><t:EmailAddress>carol@example.com</t:EmailAddress></t:Mailbox>
<t:ResponseType>NoResponseReceived</t:ResponseType></t:Attendee></t:OptionalAttendees>
<t:StartTimeZone Id="W. Europe Standard Time" Name="(UTC+01:00) Amsterdam, Berlin"/>
"""


def test_given_a_timed_meeting_in_a_windows_zone_when_read_then_wall_time_zone_and_people_map() -> None:
    fetched = fetched_from_ews(parse(TIMED))
    event = fetched.event
    assert event.span == Timed(
        datetime(2026, 3, 30, 9, tzinfo=BERLIN), datetime(2026, 3, 30, 10, tzinfo=BERLIN), "Europe/Berlin"
    )
    assert isinstance(event.span, Timed) and event.span.start.utcoffset() is not None
    assert event.span.start.hour == 9  # CEST began on the 29th: 07:00Z is 09:00 local
    assert (event.title, event.location, event.description) == (
        "Planning",
        "Raum 2.01",
        Body("<div>Agenda</div>", html=True),
    )
    assert (event.show_as, event.sensitivity, event.reminders) == (
        ShowAs.TENTATIVE,
        Sensitivity.PRIVATE,
        (15,),
    )
    assert event.attendees == (
        Attendee("bob@example.com", response=Response.ACCEPTED),
        Attendee("carol@example.com", optional=True),
    )
    assert event.organizer is not None and event.organizer.address == "alice@example.com"
    assert (fetched.version, fetched.updated, fetched.stamp) == (
        "DwAAAB",
        datetime(2026, 3, 21, 9, 0, 1, tzinfo=UTC),
        None,
    )


def test_given_an_all_day_item_in_a_zone_east_of_utc_when_read_then_the_dates_never_shift() -> None:
    event = fetched_from_ews(
        parse(
            "<t:Start>2026-05-13T22:00:00Z</t:Start><t:End>2026-05-15T22:00:00Z</t:End>"
            "<t:IsAllDayEvent>true</t:IsAllDayEvent><t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus>"
            '<t:StartTimeZone Id="W. Europe Standard Time"/><t:EndTimeZone Id="W. Europe Standard Time"/>'
        )
    ).event
    assert event.span == AllDay(date(2026, 5, 14), date(2026, 5, 16))
    assert event.show_as is ShowAs.OOF


def test_given_no_data_free_busy_and_a_cancelled_item_when_read_then_busy_and_cancelled() -> None:
    event = fetched_from_ews(
        parse(
            "<t:Start>2026-05-13T08:00:00Z</t:Start><t:End>2026-05-13T09:00:00Z</t:End>"
            "<t:LegacyFreeBusyStatus>NoData</t:LegacyFreeBusyStatus><t:IsCancelled>true</t:IsCancelled>"
        )
    ).event
    assert (event.show_as, event.status, event.span.zone if isinstance(event.span, Timed) else None) == (
        ShowAs.BUSY,
        EventStatus.CANCELLED,
        "UTC",
    )


MASTER = """
<t:Subject>Weekly</t:Subject><t:Start>2026-05-04T07:00:00Z</t:Start><t:End>2026-05-04T08:00:00Z</t:End>
<t:IsAllDayEvent>false</t:IsAllDayEvent><t:CalendarItemType>RecurringMaster</t:CalendarItemType>
<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>
<t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>
<t:NumberedRecurrence><t:StartDate>2026-05-04</t:StartDate><t:NumberOfOccurrences>6</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>
<t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-05-11T07:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>
<t:StartTimeZone Id="W. Europe Standard Time"/>
"""


def test_given_a_weekly_master_with_a_deleted_occurrence_when_read_then_rrule_and_exdate() -> None:
    event = fetched_from_ews(parse(MASTER)).event
    assert event.recurrence == Recurrence(
        ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", "EXDATE;TZID=Europe/Berlin:20260511T090000")
    )
    assert event.instance_of is None


def test_given_an_exception_fetched_from_its_master_when_read_then_instance_of_names_the_original_start() -> (
    None
):
    fields = parse(
        "<t:Subject>Moved once</t:Subject><t:Start>2026-05-06T09:00:00Z</t:Start><t:End>2026-05-06T10:00:00Z</t:End>"
        "<t:CalendarItemType>Exception</t:CalendarItemType><t:OriginalStart>2026-05-06T07:00:00Z</t:OriginalStart>"
        '<t:StartTimeZone Id="W. Europe Standard Time"/>',
        master_id="AAMkMaster",
    )
    event = fetched_from_ews(fields).event
    assert event.instance_of == InstanceOf("AAMkMaster", datetime(2026, 5, 6, 7, tzinfo=UTC))
    assert fields[MASTER_ID] == "AAMkMaster" and event.recurrence is None


def meeting(**changes: Any) -> Event:
    base = Event(
        id="src-1",
        span=Timed(
            datetime(2026, 3, 29, 9, tzinfo=ZoneInfo("Europe/Amsterdam")),
            datetime(2026, 3, 29, 10, tzinfo=ZoneInfo("Europe/Amsterdam")),
            "Europe/Amsterdam",
        ),
        title="Sync",
        description=Body("Notes"),
        location="Room 1",
        status=EventStatus.TENTATIVE,
        show_as=ShowAs.WORKING_ELSEWHERE,
        sensitivity=Sensitivity.PERSONAL,
        attendees=(Attendee("bob@example.com", "Bob"), Attendee("carol@example.com", optional=True)),
        reminders=(10, 60),
        online_meeting=OnlineMeeting(MeetingProvider.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij"),
    )
    return replace(base, **changes)


def test_given_a_meeting_when_mirrored_then_no_attendees_are_written_and_it_reads_back_the_same() -> None:
    event = meeting()
    fields = ews_fields(event, STAMP, detail="full")
    again = fetched_from_ews(ews_echo(fields))

    assert not {"required_attendees", "optional_attendees", "resources"} & set(fields)
    assert "Attendees: Bob <bob@example.com>, carol@example.com" in str(fields["body"])
    assert "https://meet.google.com/abc-defg-hij" in str(fields["body"])
    assert fields["_start_timezone"].ms_id == "W. Europe Standard Time"
    assert (
        fields["legacy_free_busy_status"],
        fields["sensitivity"],
        fields["reminder_minutes_before_start"],
    ) == (
        "WorkingElsewhere",
        "Personal",
        60,
    )
    assert again.stamp == STAMP
    assert content_hash(again.event) == content_hash(event)
    assert again.event.span == event.span  # Europe/Amsterdam kept, not CLDR's Europe/Berlin


def test_given_a_mirror_edited_by_a_person_when_read_then_the_visible_edit_wins_over_the_facts() -> None:
    fields = ews_fields(meeting(), STAMP, detail="full")
    fields.update(legacy_free_busy_status="Free", reminder_minutes_before_start=5)
    again = fetched_from_ews(ews_echo(fields)).event
    assert (again.show_as, again.reminders) == (ShowAs.FREE, (5,))


def test_given_busy_detail_when_mirrored_then_only_the_block_and_stamp_are_written() -> None:
    fields = ews_fields(meeting(), STAMP, detail="busy")
    again = fetched_from_ews(ews_echo(fields))
    assert (again.event.title, again.event.description, again.event.location) == ("Busy", None, None)
    assert (again.event.sensitivity, again.event.attendees, again.event.reminders) == (
        Sensitivity.PRIVATE,
        (),
        (),
    )
    assert again.stamp == STAMP and fields["calbridge_facts"] is None


def test_given_an_all_day_event_when_mirrored_then_exchangelib_gets_inclusive_dates_in_the_mailbox_zone() -> (
    None
):
    event = Event(id="a", span=AllDay(date(2026, 5, 14), date(2026, 5, 16)), title="Trip")
    fields = ews_fields(event, STAMP, detail="full", all_day_zone="Asia/Tokyo")
    again = fetched_from_ews(ews_echo(fields)).event
    assert (fields["start"], fields["end"], fields["is_all_day"]) == (
        date(2026, 5, 14),
        date(2026, 5, 15),
        True,
    )
    assert again.span == event.span


def test_given_yearly_every_two_years_when_mirrored_then_a_24_month_pattern_that_reads_back_yearly() -> None:
    event = meeting(recurrence=Recurrence(("RRULE:FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=-1SU",)))
    fields = ews_fields(event, STAMP, detail="full")
    pattern = fields["recurrence"].pattern
    visible = fetched_from_ews(ews_echo(fields, drop_marks=True)).event
    assert isinstance(pattern, RelativeMonthlyPattern) and pattern.interval == 24
    assert visible.recurrence == event.recurrence


def test_given_the_last_weekday_of_the_month_when_mirrored_then_one_weekday_group_value() -> None:
    start = datetime(2026, 4, 30, 9, tzinfo=BERLIN)
    rule = "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    event = meeting(
        span=Timed(start, start.replace(hour=10), "Europe/Berlin"), recurrence=Recurrence((rule,))
    )
    pattern = ews_fields(event, STAMP, detail="full")["recurrence"].pattern
    assert (pattern.weekday, pattern.week_number) == (9, 5)  # Weekday, Last


@pytest.mark.parametrize(
    "rule",
    [
        "RRULE:FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=1",  # EWS holds one DaysOfWeek value
        "RRULE:FREQ=YEARLY;INTERVAL=9;BYMONTH=3;BYMONTHDAY=29",  # 108 months, over 99
        "RRULE:FREQ=HOURLY",
    ],
)
def test_given_a_rule_ews_cannot_hold_when_mirrored_then_unsupported_recurrence(rule: str) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    event = meeting(
        span=Timed(start, start.replace(hour=10), "Europe/Berlin"), recurrence=Recurrence((rule,))
    )
    with pytest.raises(UnsupportedRecurrence):
        ews_fields(event, STAMP, detail="full")


def test_given_a_monthly_pattern_every_12_months_when_read_then_it_is_yearly() -> None:
    fields = parse(
        "<t:Start>2026-03-30T07:00:00Z</t:Start><t:End>2026-03-30T08:00:00Z</t:End>"
        "<t:Recurrence><t:AbsoluteMonthlyRecurrence><t:Interval>12</t:Interval><t:DayOfMonth>30</t:DayOfMonth>"
        "</t:AbsoluteMonthlyRecurrence><t:NoEndRecurrence><t:StartDate>2026-03-30</t:StartDate></t:NoEndRecurrence>"
        '</t:Recurrence><t:StartTimeZone Id="W. Europe Standard Time"/>'
    )
    assert fetched_from_ews(fields).event.recurrence == Recurrence(
        ("RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=30",)
    )


def test_given_a_cancelled_event_when_mirrored_then_it_is_refused() -> None:
    with pytest.raises(TranslationError):
        ews_fields(meeting(status=EventStatus.CANCELLED), STAMP, detail="full")


def test_given_a_zone_whose_windows_counterpart_has_other_offsets_when_mirrored_then_utc_and_exact() -> None:
    troll = ZoneInfo("Antarctica/Troll")
    event = meeting(
        span=Timed(
            datetime(2026, 1, 7, 9, tzinfo=troll), datetime(2026, 1, 7, 10, tzinfo=troll), "Antarctica/Troll"
        )
    )
    fields = ews_fields(event, STAMP, detail="full")
    again = fetched_from_ews(ews_echo(fields)).event
    assert fields["_start_timezone"].key == "UTC"
    assert isinstance(again.span, Timed) and again.span.start == event.span.start
    with pytest.raises(UnsupportedRecurrence):
        ews_fields(replace(event, recurrence=Recurrence(("RRULE:FREQ=DAILY",))), STAMP, detail="full")
