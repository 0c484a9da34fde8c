"""Google RRULE lines <-> Graph patternedRecurrence: exact where both sides can say it, a
documented refusal (UnsupportedRecurrence) where Graph cannot."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calbridge.translate import UnsupportedRecurrence
from calbridge.translate.recurrence import excluded_starts, graph_recurrence, rrule_lines

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def to_graph(line: str, first: datetime | date) -> dict[str, Any]:
    return graph_recurrence((line,), first, zone="Europe/Paris", windows_zone="Romance Standard Time")


def back(recurrence: dict[str, Any], *, all_day: bool = False) -> str:
    (line,) = rrule_lines(recurrence, zone="Europe/Paris", all_day=all_day)
    return line


CANONICAL = [
    ("RRULE:FREQ=DAILY", paris(2025, 3, 3, 9), {"type": "daily", "interval": 1}),
    ("RRULE:FREQ=DAILY;INTERVAL=3;COUNT=10", paris(2025, 3, 3, 9), {"type": "daily", "interval": 3}),
    (
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
        paris(2025, 3, 3, 9),
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday", "friday"]},
    ),
    (
        "RRULE:FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU",
        paris(2025, 3, 4, 9),
        {"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "sunday"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
        paris(2025, 3, 15, 9),
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYDAY=2TU",
        paris(2025, 3, 11, 9),
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
        paris(2025, 3, 28, 9),
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
    ),
    (
        "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        paris(2025, 3, 31, 9),
        {
            "type": "relativeMonthly",
            "interval": 1,
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "index": "last",
        },
    ),
    (
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=30",
        paris(2025, 3, 30, 9),
        {"type": "absoluteYearly", "interval": 1, "month": 3, "dayOfMonth": 30},
    ),
    (
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        paris(2025, 3, 30, 9),
        {"type": "relativeYearly", "interval": 1, "month": 3, "daysOfWeek": ["sunday"], "index": "last"},
    ),
]


@pytest.mark.parametrize(("line", "first", "pattern"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_given_an_expressible_rule_when_mapped_both_ways_then_it_round_trips(
    line: str, first: datetime, pattern: dict[str, Any]
) -> None:
    recurrence = to_graph(line, first)
    assert {k: v for k, v in recurrence["pattern"].items() if k in pattern} == pattern
    assert recurrence["range"]["startDate"] == first.date().isoformat()
    assert recurrence["range"]["recurrenceTimeZone"] == "Romance Standard Time"
    assert back(recurrence) == line


def test_given_count_when_mapped_then_a_numbered_range() -> None:
    recurrence = to_graph("RRULE:FREQ=DAILY;COUNT=5", paris(2025, 3, 3, 9))
    assert recurrence["range"] == {
        "type": "numbered",
        "numberOfOccurrences": 5,
        "startDate": "2025-03-03",
        "recurrenceTimeZone": "Romance Standard Time",
    }


def test_given_until_at_end_of_local_day_when_mapped_then_that_local_date_is_the_end_date() -> None:
    # 2025-06-30 23:59:59 in Paris (summer time) is 21:59:59 UTC: the form Google's own UI writes.
    line = "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20250630T215959Z"
    recurrence = to_graph(line, paris(2025, 3, 3, 9))
    assert recurrence["range"]["type"] == "endDate"
    assert recurrence["range"]["endDate"] == "2025-06-30"
    assert back(recurrence) == line


def test_given_until_before_that_days_start_time_when_mapped_then_the_day_before_is_the_end_date() -> None:
    # UNTIL 08:00 Paris on Monday 30 June: the 09:00 occurrence that day is past UNTIL, so excluded.
    recurrence = to_graph("RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20250630T060000Z", paris(2025, 3, 3, 9))
    assert recurrence["range"]["endDate"] == "2025-06-29"


def test_given_an_all_day_series_with_a_date_until_when_mapped_then_the_date_round_trips() -> None:
    line = "RRULE:FREQ=WEEKLY;BYDAY=FR;UNTIL=20251226"
    recurrence = to_graph(line, date(2025, 10, 3))
    assert recurrence["range"]["endDate"] == "2025-12-26"
    assert back(recurrence, all_day=True) == line


@pytest.mark.parametrize(
    ("line", "first", "canonical"),
    [
        (
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            paris(2025, 3, 3, 9),
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        ),
        ("RRULE:FREQ=WEEKLY", paris(2025, 3, 5, 9), "RRULE:FREQ=WEEKLY;BYDAY=WE"),
        ("RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", paris(2025, 3, 11, 9), "RRULE:FREQ=MONTHLY;BYDAY=2TU"),
        ("RRULE:FREQ=MONTHLY", paris(2025, 3, 12, 9), "RRULE:FREQ=MONTHLY;BYMONTHDAY=12"),
        ("RRULE:FREQ=YEARLY", paris(2025, 3, 12, 9), "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=12"),
    ],
)
def test_given_an_equivalent_spelling_when_mapped_then_graph_reads_back_the_canonical_one(
    line: str, first: datetime, canonical: str
) -> None:
    assert back(to_graph(line, first)) == canonical


def test_given_a_graph_pattern_with_every_field_filled_when_read_then_only_its_type_fields_count() -> None:
    recurrence = {
        "pattern": {
            "type": "absoluteMonthly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 9,
            "daysOfWeek": [],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "noEnd",
            "startDate": "2025-03-09",
            "endDate": "0001-01-01",
            "recurrenceTimeZone": "Romance Standard Time",
            "numberOfOccurrences": 0,
        },
    }
    assert back(recurrence) == "RRULE:FREQ=MONTHLY;BYMONTHDAY=9"


UNSUPPORTED = [
    (("RRULE:FREQ=WEEKLY;BYDAY=MO", "RRULE:FREQ=WEEKLY;BYDAY=FR"), "2 RRULE lines"),
    (("RRULE:FREQ=WEEKLY;BYDAY=MO", "RDATE;TZID=Europe/Paris:20250310T090000"), "RDATE"),
    (("RRULE:FREQ=WEEKLY;BYDAY=MO", "EXRULE:FREQ=MONTHLY"), "EXRULE"),
    (("RRULE:FREQ=HOURLY;INTERVAL=4",), "FREQ=HOURLY"),
    (("RRULE:FREQ=MINUTELY",), "FREQ=MINUTELY"),
    (("RRULE:FREQ=DAILY;BYHOUR=9,17",), "BYHOUR"),
    (("RRULE:FREQ=YEARLY;BYWEEKNO=10",), "BYWEEKNO"),
    (("RRULE:FREQ=MONTHLY;BYMONTHDAY=3,17",), "several BYMONTHDAY"),
    (("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",), "day of month -1"),
    (("RRULE:FREQ=MONTHLY;BYMONTHDAY=31",), "day of month 31"),
    (("RRULE:FREQ=MONTHLY;BYDAY=MO,FR;BYSETPOS=1,-1",), "BYSETPOS with a list"),
    (("RRULE:FREQ=MONTHLY;BYDAY=1MO,3MO",), "exactly one ordinal"),
    (("RRULE:FREQ=MONTHLY;BYDAY=5MO",), "occurrence index 5"),
    (("RRULE:FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=3",), "BYMONTH"),
    (("RRULE:FREQ=WEEKLY;BYDAY=1MO",), "ordinal BYDAY in a weekly rule"),
    (("RRULE:FREQ=DAILY;INTERVAL=2;BYDAY=MO,TU",), "daily rule"),
    (("RRULE:FREQ=WEEKLY;BYDAY=TU",), "not an occurrence"),  # the series starts on a Monday
]


@pytest.mark.parametrize(("rules", "reason"), UNSUPPORTED, ids=[u[1] for u in UNSUPPORTED])
def test_given_a_rule_graph_cannot_express_when_mapped_then_unsupported_with_the_reason(
    rules: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(UnsupportedRecurrence) as raised:
        graph_recurrence(
            rules, paris(2025, 3, 3, 9), zone="Europe/Paris", windows_zone="Romance Standard Time"
        )
    assert reason in raised.value.reason


def test_given_exdate_lines_when_mapped_then_the_pattern_ignores_them_and_they_are_listed() -> None:
    rules = (
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "EXDATE;TZID=Europe/Paris:20250310T090000,20250317T090000",
        "EXDATE:20250324T080000Z",
    )
    recurrence = graph_recurrence(rules, paris(2025, 3, 3, 9), zone="Europe/Paris", windows_zone="Romance")
    assert recurrence["pattern"]["daysOfWeek"] == ["monday"]
    assert excluded_starts(rules, "Europe/Paris") == (
        paris(2025, 3, 10, 9),
        paris(2025, 3, 17, 9),
        datetime(2025, 3, 24, 8, tzinfo=ZoneInfo("UTC")),
    )


def test_given_all_day_exdates_when_listed_then_dates() -> None:
    rules = ("RRULE:FREQ=DAILY", "EXDATE;VALUE=DATE:20251225,20251226")
    assert excluded_starts(rules, "UTC") == (date(2025, 12, 25), date(2025, 12, 26))
