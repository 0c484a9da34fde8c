"""The pure quota decision: how many requests a process may reserve now, or how long to wait."""

from __future__ import annotations

import pytest

from calbridge.providers.quota import Quota, QuotaKey, WindowCount, decide, estimate, roll

USER = Quota("user", QuotaKey.MAILBOX, 600, 60)
DAY = Quota("project-day", QuotaKey.OWNER, 1_000_000, 86_400, sliding=False, warn_at=0.8, reserve=True)
T0 = 1_800_000_000  # seconds since the epoch; windows start at T0 - T0 % window


def test_given_an_unused_quota_when_a_batch_is_asked_then_all_of_it_is_granted() -> None:
    decision = decide(None, USER, 3, T0 + 1)
    assert decision.granted == 3 and decision.wait == 0
    assert decision.count == WindowCount(T0 - T0 % 60, 3, 0)


def test_given_a_nearly_full_window_when_more_is_asked_then_only_the_room_left_is_granted() -> None:
    start = T0 - T0 % 60
    decision = decide(WindowCount(start, 598), USER, 5, start + 10)
    assert decision.granted == 2 and decision.count.used == 600
    assert decision.ratio == pytest.approx(1.0)


def test_given_a_full_window_when_asked_then_nothing_is_granted_and_the_wait_reaches_the_next_room() -> None:
    start = T0 - T0 % 60
    full = WindowCount(start, 600)
    decision = decide(full, USER, 1, start + 10)
    assert decision.granted == 0 and decision.count == full
    # In the next window the full one still weighs (sliding): one request fits once 1/600 of it left.
    at = start + 10 + decision.wait
    assert start + 60 < at < start + 61
    assert decide(full, USER, 1, at + 0.001).granted == 1


def test_given_a_busy_previous_window_then_the_sliding_estimate_counts_its_overlap() -> None:
    start = T0 - T0 % 60
    count = roll(WindowCount(start - 60, 600), USER, start + 15)  # a quarter into the new window
    assert count == WindowCount(start, 0, 600)
    assert estimate(count, USER, start + 15) == pytest.approx(450)
    decision = decide(WindowCount(start - 60, 600), USER, 500, start + 15)
    assert decision.granted == 150  # 600 - 450: a burst at the boundary cannot double the rate


def test_given_an_old_count_when_rolled_two_windows_later_then_it_is_forgotten() -> None:
    start = T0 - T0 % 60
    assert roll(WindowCount(start - 120, 600, 600), USER, start + 1) == WindowCount(start, 0, 0)


def test_given_a_day_past_its_warning_level_then_the_rest_is_released_evenly_not_all_at_once() -> None:
    start = T0 - T0 % 86_400
    at_noon = start + 43_200
    # 800,000 used by noon: 80 % of the cap plus half of the 20 % reserve may be used now.
    decision = decide(WindowCount(start, 800_000), DAY, 500_000, at_noon)
    assert decision.granted == 100_000
    # Then it trickles: one more request only after 1/200,000 of a day (about 0.43 s).
    spent = decide(decision.count, DAY, 1, at_noon)
    assert spent.granted == 0
    assert spent.wait == pytest.approx(86_400 / 200_000, rel=0.01)
    assert decide(decision.count, DAY, 1, at_noon + spent.wait + 0.001).granted == 1


def test_given_a_day_under_its_warning_level_then_it_is_not_slowed() -> None:
    start = T0 - T0 % 86_400
    decision = decide(WindowCount(start, 100), DAY, 5_000, start + 60)
    assert decision.granted == 5_000


def test_given_the_whole_day_spent_then_the_wait_is_until_the_next_day() -> None:
    start = T0 - T0 % 86_400
    decision = decide(WindowCount(start, 1_000_000), DAY, 1, start + 86_000)
    assert decision.granted == 0 and decision.wait == pytest.approx(400)


def test_given_a_fixed_window_with_an_offset_then_it_starts_at_the_offset() -> None:
    google_day = DAY.but(offset=8 * 3600)
    start = T0 - T0 % 86_400
    assert decide(None, google_day, 1, start + 7 * 3600).count.start == start - 86_400 + 8 * 3600
    assert decide(None, google_day, 1, start + 9 * 3600).count.start == start + 8 * 3600


def test_batches_are_half_a_percent_of_the_limit() -> None:
    assert (USER.batch, DAY.batch, Quota("m", QuotaKey.MAILBOX, 4, 60).batch) == (3, 5_000, 1)
