"""The mass-deletion breaker: small deletions pass, a pass deleting most of a pair pauses, and an
empty full read is never taken for "everything is gone"."""

from __future__ import annotations

from datetime import UTC, datetime

from calbridge.model import Event, Timed
from calbridge.pairs.policy import Side
from calbridge.providers.base import MirrorStamp
from calbridge.settings import load_settings
from processor.sync.actions import Create, Delete, Outcome, Skip
from processor.sync.breaker import (
    BreakerLimits,
    Pause,
    Proceed,
    judge_deletions,
    judge_full_read,
    limits_from,
    needs_linked_count,
)
from processor.sync.record import Link

DELETE = Delete(Side.MICROSOFT, "m1", None, None)
SKIP = Skip(Outcome.SKIP_ECHO, "echo")
_T = datetime(2026, 1, 1, tzinfo=UTC)
CREATE = Create(Side.MICROSOFT, Event("g1", Timed(_T, _T)), MirrorStamp("p", "g1"), Link(Side.GOOGLE))


def test_given_few_deletions_when_judged_then_proceed_even_if_they_are_all_the_pair_has() -> None:
    assert judge_deletions([DELETE] * 3, linked=3, limits=BreakerLimits()) == Proceed()


def test_given_most_of_a_pair_deleted_in_one_pass_when_judged_then_pause_with_counts() -> None:
    verdict = judge_deletions([DELETE] * 30 + [SKIP, CREATE], linked=40, limits=BreakerLimits())
    assert isinstance(verdict, Pause)
    assert "30 of 40" in verdict.reason


def test_given_many_deletions_that_are_a_small_share_when_judged_then_proceed() -> None:
    assert judge_deletions([DELETE] * 20, linked=100, limits=BreakerLimits()) == Proceed()


def test_given_stricter_limits_when_judged_then_the_limits_decide() -> None:
    assert isinstance(
        judge_deletions([DELETE] * 2, linked=5, limits=BreakerLimits(share=0.3, minimum=2)), Pause
    )
    assert judge_deletions([DELETE] * 1, linked=5, limits=BreakerLimits(share=0.3, minimum=2)) == Proceed()


def test_given_an_empty_full_read_while_events_are_linked_then_pause() -> None:
    verdict = judge_full_read(events_read=0, linked=12)
    assert isinstance(verdict, Pause) and "12" in verdict.reason


def test_given_an_empty_full_read_of_a_new_pair_then_proceed() -> None:
    assert judge_full_read(events_read=0, linked=0) == Proceed()
    assert judge_full_read(events_read=4, linked=12) == Proceed()


def test_given_settings_from_the_environment_then_limits_follow_them(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CALBRIDGE_MASS_DELETE_SHARE", "0.25")
    monkeypatch.setenv("CALBRIDGE_MASS_DELETE_MIN", "4")
    assert limits_from(load_settings()) == BreakerLimits(share=0.25, minimum=4)
    monkeypatch.delenv("CALBRIDGE_MASS_DELETE_SHARE")
    monkeypatch.delenv("CALBRIDGE_MASS_DELETE_MIN")
    assert limits_from(load_settings()) == BreakerLimits(share=0.5, minimum=10)


def test_given_fewer_deletes_than_the_minimum_then_the_linked_count_is_not_needed() -> None:
    limits = BreakerLimits(minimum=3)
    assert not needs_linked_count([DELETE, DELETE, SKIP, CREATE], limits)
    assert needs_linked_count([DELETE] * 3, limits)
    # whatever the count would have been, below the minimum the verdict is the same
    assert all(judge_deletions([DELETE] * 2, linked=n, limits=limits) == Proceed() for n in (0, 1, 2, 100))
