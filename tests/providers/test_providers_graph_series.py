"""Finding a Graph series' cancelled occurrences by expanding its pattern (pure, no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from calbridge.model import AllDay, Event, Recurrence, Timed
from calbridge.providers.graph.series import cancelled_starts, expected_starts

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))


def series(*rules: str, all_day: bool = False) -> Event:
    if all_day:
        span: AllDay | Timed = AllDay(date(2026, 10, 20), date(2026, 10, 21))
    else:
        span = Timed(
            datetime(2026, 10, 20, 10, tzinfo=BERLIN),
            datetime(2026, 10, 20, 10, 15, tzinfo=BERLIN),
            "Europe/Berlin",
        )
    return Event(id="m", span=span, recurrence=Recurrence(rules))


def test_given_a_daily_series_across_dst_when_expanding_then_the_local_hour_is_kept() -> None:
    starts = expected_starts(series("RRULE:FREQ=DAILY;COUNT=10"), WINDOW)
    assert len(starts) == 10
    assert {s.astimezone(BERLIN).hour for s in starts if isinstance(s, datetime)} == {10}
    assert starts[-1] == datetime(2026, 10, 29, 10, tzinfo=BERLIN)


def test_given_an_until_in_utc_when_expanding_then_the_last_day_is_included() -> None:
    # Graph's endDate 2026-10-22 becomes UNTIL at the end of that local day, in UTC.
    starts = expected_starts(series("RRULE:FREQ=DAILY;UNTIL=20261022T215959Z"), WINDOW)
    assert starts[-1] == datetime(2026, 10, 22, 10, tzinfo=BERLIN) and len(starts) == 3


def test_given_a_window_when_expanding_then_only_starts_inside_it_come_back() -> None:
    window = (datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    assert expected_starts(series("RRULE:FREQ=DAILY"), window) == [
        datetime(2026, 10, 25, 10, tzinfo=BERLIN),
        datetime(2026, 10, 26, 10, tzinfo=BERLIN),
    ]


def test_given_listed_instances_when_one_is_missing_then_it_is_the_cancelled_one() -> None:
    master = series("RRULE:FREQ=DAILY;COUNT=4")
    listed: list[datetime | date] = [
        datetime(2026, 10, 20, 8, tzinfo=UTC),  # the same instants, shown in UTC
        datetime(2026, 10, 21, 8, tzinfo=UTC),
        datetime(2026, 10, 23, 8, tzinfo=UTC),
    ]
    assert cancelled_starts(master, listed, WINDOW) == [datetime(2026, 10, 22, 10, tzinfo=BERLIN)]


def test_given_exdate_lines_when_expanding_then_excluded_starts_are_not_reported_cancelled() -> None:
    master = series("RRULE:FREQ=DAILY;COUNT=3", "EXDATE;TZID=Europe/Berlin:20261021T100000")
    listed: list[datetime | date] = [
        datetime(2026, 10, 20, 10, tzinfo=BERLIN),
        datetime(2026, 10, 22, 10, tzinfo=BERLIN),
    ]
    assert cancelled_starts(master, listed, WINDOW) == []


def test_given_an_all_day_series_when_expanding_then_dates_come_back() -> None:
    master = series("RRULE:FREQ=WEEKLY;COUNT=3", all_day=True)
    assert cancelled_starts(master, [date(2026, 10, 20), date(2026, 11, 3)], WINDOW) == [date(2026, 10, 27)]


def test_given_no_recurrence_when_expanding_then_nothing() -> None:
    single = Event(id="s", span=AllDay(date(2026, 1, 1), date(2026, 1, 2)))
    assert expected_starts(single, WINDOW) == []


def test_given_settings_when_building_adapter_options_then_the_knobs_are_carried() -> None:
    from datetime import timedelta

    from calbridge.providers.google.adapter import google_options
    from calbridge.providers.graph.adapter import graph_options
    from calbridge.settings import load_settings

    settings = load_settings(google_threads=3, graph_mailbox_concurrency=2, graph_window_past_days=7)
    assert google_options(settings)["threads"] == 3
    options = graph_options(settings)
    assert options["limits"].per_mailbox == 2 and options["past"] == timedelta(days=7)


def test_given_a_cursor_with_series_when_encoded_and_decoded_then_it_round_trips() -> None:
    from calbridge.providers.graph.cursor import GraphCursor

    plain = GraphCursor("https://graph/delta?$deltatoken=x")
    assert plain.encode() == "https://graph/delta?$deltatoken=x"  # a bare link stays a bare link
    assert GraphCursor.decode(plain.encode()) == plain
    rich = GraphCursor("https://graph/delta?$deltatoken=y", frozenset({"m1", "m2"}))
    assert GraphCursor.decode(rich.encode()) == rich
