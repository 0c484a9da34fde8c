"""The fallback for a series Outlook cannot hold as one pattern: which one, and its exact shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.fallback import Expanded, NoFallback, Split, SplitPart, plan_fallback
from calbridge.translate.recurrence import graph_recurrence

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))


def holds(rules: tuple[str, ...], start: datetime | date) -> bool:
    try:
        graph_recurrence(rules, start, zone="Europe/Berlin", windows_zone="W. Europe Standard Time")
    except UnsupportedRecurrence:
        return False
    return True


def fallback(*lines: str, start: datetime | date) -> object:
    zone = "Europe/Berlin" if isinstance(start, datetime) else "UTC"
    return plan_fallback(lines, start, zone, window=WINDOW, holds=holds)


def test_given_two_month_days_with_a_count_then_two_monthly_parts_ending_where_the_series_ends() -> None:
    assert fallback(
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=6", start=datetime(2027, 1, 1, 10, tzinfo=BERLIN)
    ) == Split(
        (
            SplitPart(
                ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20270315T090000Z",),
                datetime(2027, 1, 1, 10, tzinfo=BERLIN),
            ),
            SplitPart(
                ("RRULE:FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20270315T090000Z",),
                datetime(2027, 1, 15, 10, tzinfo=BERLIN),
            ),
        )
    )


def test_given_two_hours_a_day_then_two_daily_parts_each_at_its_hour() -> None:
    split = fallback("RRULE:FREQ=DAILY;BYHOUR=9,17", start=datetime(2027, 1, 4, 9, tzinfo=BERLIN))
    assert isinstance(split, Split)
    assert [(p.rules, p.start.hour) for p in split.parts] == [  # type: ignore[union-attr]
        (("RRULE:FREQ=DAILY",), 9),
        (("RRULE:FREQ=DAILY",), 17),
    ]


def test_given_exdates_on_a_split_then_each_part_keeps_only_its_own() -> None:
    split = fallback(
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15",
        "EXDATE;TZID=Europe/Berlin:20270115T100000,20270301T100000",
        start=datetime(2027, 1, 1, 10, tzinfo=BERLIN),
    )
    assert isinstance(split, Split)
    assert [p.rules[1:] for p in split.parts] == [
        ("EXDATE;TZID=Europe/Berlin:20270301T100000",),
        ("EXDATE;TZID=Europe/Berlin:20270115T100000",),
    ]


def test_given_the_31st_or_an_rdate_or_bysetpos_list_then_the_occurrences_themselves() -> None:
    thirty_first = fallback(
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4", start=datetime(2026, 12, 31, 9, tzinfo=BERLIN)
    )
    assert thirty_first == Expanded(
        tuple(datetime(y, m, 31, 9, tzinfo=BERLIN) for y, m in ((2026, 12), (2027, 1), (2027, 3), (2027, 5)))
    )
    extra = fallback("RRULE:FREQ=WEEKLY;COUNT=2", "RDATE;VALUE=DATE:20270108", start=date(2027, 1, 5))
    assert extra == Expanded((date(2027, 1, 5), date(2027, 1, 8), date(2027, 1, 12)))
    setpos = fallback(
        "RRULE:FREQ=MONTHLY;BYDAY=MO,FR;BYSETPOS=1,-1;COUNT=2", start=datetime(2027, 1, 1, 9, tzinfo=BERLIN)
    )
    assert setpos == Expanded(
        (datetime(2027, 1, 1, 9, tzinfo=BERLIN), datetime(2027, 1, 29, 9, tzinfo=BERLIN))
    )


def test_given_a_rule_with_too_many_occurrences_or_unreadable_then_no_fallback_with_the_reason() -> None:
    many = fallback("RRULE:FREQ=HOURLY", start=datetime(2027, 1, 1, 9, tzinfo=BERLIN))
    assert isinstance(many, NoFallback) and "more than 1000 occurrences" in many.reason
    unreadable = fallback("RRULE:FREQ=SOMETIMES", start=datetime(2027, 1, 1, 9, tzinfo=BERLIN))
    assert isinstance(unreadable, NoFallback) and "cannot be read" in unreadable.reason
