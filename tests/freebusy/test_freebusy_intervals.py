"""Merging, precedence, clipping and all-day blocks: what a person sees as busy time."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from freebusy_doubles import UTC, at
from hypothesis import given
from hypothesis import strategies as st

from calbridge.freebusy.intervals import PRECEDENCE, all_day_span, clip, localize, merge, normalize
from calbridge.freebusy.types import Busy, BusyStatus

BUSY, TENTATIVE, OOF, ELSEWHERE = (
    BusyStatus.BUSY,
    BusyStatus.TENTATIVE,
    BusyStatus.OOF,
    BusyStatus.WORKING_ELSEWHERE,
)
BERLIN = ZoneInfo("Europe/Berlin")


def spans(blocks: list[Busy]) -> list[tuple[datetime, datetime, BusyStatus]]:
    return [(b.start, b.end, b.status) for b in blocks]


def test_given_overlapping_meetings_of_one_status_when_merged_then_one_block() -> None:
    merged = merge([Busy(at(9), at(10)), Busy(at(9, 30), at(11)), Busy(at(10, 30), at(10, 45))])
    assert spans(merged) == [(at(9), at(11), BUSY)]


def test_given_touching_blocks_of_one_status_when_merged_then_they_join() -> None:
    assert spans(merge([Busy(at(9), at(10)), Busy(at(10), at(11))])) == [(at(9), at(11), BUSY)]


def test_given_disjoint_blocks_when_merged_then_sorted_and_kept_apart() -> None:
    merged = merge([Busy(at(14), at(15)), Busy(at(9), at(10))])
    assert spans(merged) == [(at(9), at(10), BUSY), (at(14), at(15), BUSY)]


def test_given_tentative_inside_busy_when_merged_then_busy_wins_the_overlap() -> None:
    merged = merge([Busy(at(9), at(12), TENTATIVE), Busy(at(10), at(11), BUSY)])
    assert spans(merged) == [(at(9), at(10), TENTATIVE), (at(10), at(11), BUSY), (at(11), at(12), TENTATIVE)]


def test_precedence_is_oof_then_busy_then_working_elsewhere_then_tentative() -> None:
    ordered = sorted(BusyStatus, key=PRECEDENCE.__getitem__, reverse=True)
    assert ordered == [OOF, BUSY, ELSEWHERE, TENTATIVE]
    for weaker, stronger in [(TENTATIVE, ELSEWHERE), (ELSEWHERE, BUSY), (BUSY, OOF)]:
        assert spans(merge([Busy(at(9), at(10), weaker), Busy(at(9), at(10), stronger)])) == [
            (at(9), at(10), stronger)
        ]


def test_given_empty_or_inverted_blocks_when_merged_then_they_are_ignored() -> None:
    assert merge([Busy(at(9), at(9)), Busy(at(10), at(9))]) == []


def test_given_blocks_beyond_the_window_when_clipped_then_only_the_inside_remains() -> None:
    blocks = [Busy(at(6), at(9)), Busy(at(12), at(13)), Busy(at(17), at(20)), Busy(at(19), at(21))]
    assert spans(clip(blocks, at(8), at(18))) == [
        (at(8), at(9), BUSY),
        (at(12), at(13), BUSY),
        (at(17), at(18), BUSY),
    ]


def test_given_an_all_day_block_in_berlin_then_it_runs_from_local_midnight_to_midnight() -> None:
    start, end = all_day_span(date(2026, 11, 23), date(2026, 11, 24), BERLIN)
    assert start.astimezone(UTC) == at(23, day=22)  # 00:00 CET is 23:00 UTC the day before
    assert end - start == timedelta(days=1)


def test_given_an_all_day_block_on_a_dst_day_then_it_lasts_the_local_day() -> None:
    start, end = all_day_span(date(2026, 3, 29), date(2026, 3, 30), BERLIN)  # clocks go forward
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_given_an_all_day_oof_and_a_meeting_when_normalized_then_the_day_shows_oof() -> None:
    day_start, day_end = all_day_span(date(2026, 11, 23), date(2026, 11, 24), BERLIN)
    blocks = [Busy(day_start, day_end, OOF), Busy(at(9, zone=BERLIN), at(10, zone=BERLIN), BUSY)]
    shown = normalize(blocks, at(8, zone=BERLIN), at(18, zone=BERLIN))
    assert spans(list(shown)) == [(at(7), at(17), OOF)]  # clipped to the window, in UTC


def test_given_a_multi_day_all_day_block_and_timed_blocks_then_they_merge_across_midnight() -> None:
    first, last = all_day_span(date(2026, 11, 23), date(2026, 11, 25), UTC)
    blocks = [Busy(first, last, ELSEWHERE), Busy(at(22, day=24), at(2, day=25) + timedelta(days=0), BUSY)]
    merged = merge(blocks)
    assert spans(merged) == [
        (at(0), at(22, day=24), ELSEWHERE),
        (at(22, day=24), at(0, day=25) + timedelta(hours=2), BUSY),
    ]


def test_given_wall_clock_times_when_localized_then_they_carry_the_asked_zone() -> None:
    assert localize(datetime(2026, 11, 23, 9), BERLIN) == at(8)
    assert localize(at(9), BERLIN) == at(9)  # already aware: unchanged


def test_given_the_repeated_dst_hour_when_merged_then_instants_not_wall_clocks_decide() -> None:
    utc = [(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 50, tzinfo=UTC))]
    utc.append((datetime(2026, 10, 25, 1, 10, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)))
    # In Berlin both read 02:xx: 02:30-02:50 first, then 02:10-02:30 (the repeated hour).
    local = [Busy(s.astimezone(BERLIN), e.astimezone(BERLIN)) for s, e in utc]
    assert [(b.start, b.end) for b in merge(local)] == utc


_minutes = st.integers(min_value=0, max_value=24 * 60)
_blocks = st.lists(
    st.tuples(_minutes, _minutes, st.sampled_from(list(BusyStatus))).map(
        lambda t: Busy(
            at(0) + timedelta(minutes=min(t[0], t[1])), at(0) + timedelta(minutes=max(t[0], t[1])), t[2]
        )
    ),
    max_size=12,
)


@given(_blocks)
def test_property_merged_blocks_are_disjoint_and_show_the_strongest_status_everywhere(
    blocks: list[Busy],
) -> None:
    merged = merge(blocks)
    for a, b in itertools.pairwise(merged):
        assert a.end <= b.start
        assert a.end < b.start or a.status != b.status  # touching blocks differ, or they would be one
    for minute in range(0, 24 * 60, 7):
        moment = at(0) + timedelta(minutes=minute, seconds=30)
        covering = [b.status for b in blocks if b.start <= moment < b.end]
        shown = [b.status for b in merged if b.start <= moment < b.end]
        expected = [max(covering, key=PRECEDENCE.__getitem__)] if covering else []
        assert shown == expected
