"""Property tests: generated Events survive Event -> EWS fields -> (as Exchange returns them) ->
Event with the same content_hash, for timed events around DST transitions, all-day events and
every recurrence pattern EWS can express; the visible fields alone carry a native event; and a
series as Outlook stores it reads as a rule that writes back as the same pattern."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from ews_echo import ews_echo
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from test_translate_properties import ALIASED_ZONES, SETTINGS, STAMP, canonical_zones, events

from calbridge.model import Event, content_hash
from calbridge.providers.ews.recurrence import ews_recurrence, rules_from_ews
from calbridge.providers.ews.translate import ews_fields, fetched_from_ews


@SETTINGS
@given(
    event=events(zones=canonical_zones() + ALIASED_ZONES, native_to_graph=False),
    mailbox_zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles"]),
)
def test_property_event_to_ews_and_back_keeps_the_hash(event: Event, mailbox_zone: str) -> None:
    again = fetched_from_ews(ews_echo(ews_fields(event, STAMP, detail="full", all_day_zone=mailbox_zone)))
    assert content_hash(again.event) == content_hash(event)
    assert again.stamp == STAMP


@SETTINGS
@given(event=events(zones=canonical_zones(), native_to_graph=True))
def test_property_ews_visible_fields_alone_keep_the_hash(event: Event) -> None:
    # No calbridge marks: the pattern, StartTimeZone and instants must carry the meeting by themselves.
    again = fetched_from_ews(ews_echo(ews_fields(event, STAMP, detail="full"), drop_marks=True))
    assert content_hash(again.event) == content_hash(event)
    assert again.stamp is None


@st.composite
def native_series(draw: st.DrawFn) -> tuple[Recurrence, date]:
    """An EWS recurrence as Outlook could store it, and the date of its first occurrence."""
    kind = draw(st.sampled_from(["daily", "weekly", "absMonthly", "relMonthly", "absYearly", "relYearly"]))
    day, month = draw(st.integers(1, 28)), draw(st.integers(1, 12))
    weekday, week = draw(st.integers(1, 10)), draw(st.integers(1, 5))
    if kind == "daily":
        pattern: object = DailyPattern(interval=draw(st.integers(1, 30)))
    elif kind == "weekly":
        days = sorted(draw(st.sets(st.integers(1, 7), min_size=1)))
        pattern = WeeklyPattern(
            interval=draw(st.integers(1, 4)), weekdays=days, first_day_of_week=draw(st.integers(1, 7))
        )
    elif kind == "absMonthly":
        pattern = AbsoluteMonthlyPattern(
            interval=draw(st.sampled_from([1, 2, 3, 6, 12, 24])), day_of_month=day
        )
    elif kind == "relMonthly":
        pattern = RelativeMonthlyPattern(
            interval=draw(st.sampled_from([1, 2, 5, 12, 36])), weekday=weekday, week_number=week
        )
    elif kind == "absYearly":
        pattern = AbsoluteYearlyPattern(day_of_month=day, month=month)
    else:
        pattern = RelativeYearlyPattern(weekday=weekday, week_number=week, month=month)
    begin = draw(st.dates(date(2024, 1, 1), date(2027, 12, 31)))
    # The series starts on the pattern's first occurrence on or after `begin` (as Outlook saves it).
    probe = Recurrence(pattern=pattern, boundary=NoEndPattern(start=begin))
    (line,) = rules_from_ews(probe, zone="UTC", all_day=True)
    first = rrulestr(line.removeprefix("RRULE:"), dtstart=datetime.combine(begin, time())).after(
        datetime.combine(begin, time()), inc=True
    )
    assume(first is not None)
    start = first.date()
    ending = draw(st.sampled_from(["none", "count", "until"]))
    if ending == "count":
        boundary: object = NumberedPattern(start=start, number=draw(st.integers(1, 60)))
    elif ending == "until":
        boundary = EndDatePattern(start=start, end=start + timedelta(days=draw(st.integers(0, 900))))
    else:
        boundary = NoEndPattern(start=start)
    return Recurrence(pattern=pattern, boundary=boundary), start


@SETTINGS
@given(series=native_series(), zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_property_a_native_ews_series_read_and_written_back_is_the_same_rule(
    series: tuple[Recurrence, date], zone: str
) -> None:
    recurrence, start = series
    first = datetime.combine(start, time(9), ZoneInfo(zone))
    lines = rules_from_ews(recurrence, zone=zone, all_day=False)
    again = ews_recurrence(lines, first, zone=zone)
    assert rules_from_ews(again, zone=zone, all_day=False) == lines
    assert again.boundary.start == start
