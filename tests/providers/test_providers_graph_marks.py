"""KnownMarks: an event's marks are reused only at the exact version they were seen with."""

from __future__ import annotations

from calbridge.providers.graph.marks import KnownMarks

MARKS = [{"id": "String {x} Name calbridge.pair", "value": "p1"}]


def test_given_marks_seen_at_a_version_when_the_same_version_is_listed_then_they_are_reused() -> None:
    memo = KnownMarks()
    memo.note({"id": "e1", "changeKey": "ck1", "singleValueExtendedProperties": MARKS})
    completed = memo.complete({"id": "e1", "changeKey": "ck1", "subject": "x"})
    assert completed == {
        "id": "e1",
        "changeKey": "ck1",
        "subject": "x",
        "singleValueExtendedProperties": MARKS,
    }


def test_given_marks_seen_at_a_version_when_another_version_is_listed_then_they_are_unknown() -> None:
    memo = KnownMarks()
    memo.note({"id": "e1", "changeKey": "ck1", "singleValueExtendedProperties": MARKS})
    assert memo.complete({"id": "e1", "changeKey": "ck2"}) is None
    assert memo.complete({"id": "e1"}) is None
    assert memo.complete({"id": "e2", "changeKey": "ck1"}) is None


def test_given_an_item_read_without_marks_when_noted_then_nothing_is_remembered() -> None:
    memo = KnownMarks()
    memo.note({"id": "e1", "changeKey": "ck1"})
    assert memo.complete({"id": "e1", "changeKey": "ck1"}) is None


def test_given_more_events_than_capacity_when_noting_then_the_oldest_is_forgotten() -> None:
    memo = KnownMarks(capacity=2)
    for n in range(3):
        memo.note({"id": f"e{n}", "changeKey": "ck", "singleValueExtendedProperties": []})
    assert memo.complete({"id": "e0", "changeKey": "ck"}) is None
    assert memo.complete({"id": "e2", "changeKey": "ck"}) is not None
