"""The calendar model: spans validate themselves, and the content hash means "the meeting changed"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from calbridge.model import AllDay, Attendee, Body, Event, Timed, content_hash

PARIS = ZoneInfo("Europe/Paris")


def meeting(**changes: object) -> Event:
    base = Event(
        id="e1",
        span=Timed(
            datetime(2025, 3, 31, 9, tzinfo=PARIS), datetime(2025, 3, 31, 10, tzinfo=PARIS), "Europe/Paris"
        ),
        title="Planning",
        description=Body("<p>agenda</p>", html=True),
        attendees=(Attendee("b@example.com"), Attendee("a@example.com", optional=True)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_hash_ignores_provider_ids_and_display_zone_of_the_same_instant() -> None:
    same_instant = Timed(
        datetime(2025, 3, 31, 7, tzinfo=UTC), datetime(2025, 3, 31, 8, tzinfo=UTC), "Europe/Paris"
    )
    assert content_hash(meeting()) == content_hash(meeting(id="other-side-id", span=same_instant))


def test_hash_ignores_attendee_order_and_address_case() -> None:
    reordered = (Attendee("A@example.com", optional=True), Attendee("b@example.com"))
    assert content_hash(meeting()) == content_hash(meeting(attendees=reordered))


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Planning (moved)"},
        {"location": "Room 4"},
        {
            "span": Timed(
                datetime(2025, 3, 31, 10, tzinfo=PARIS),
                datetime(2025, 3, 31, 11, tzinfo=PARIS),
                "Europe/Paris",
            )
        },
        {"span": AllDay(date(2025, 3, 31), date(2025, 4, 1))},
        {"attendees": ()},
    ],
)
def test_hash_changes_when_the_meeting_changes(change: dict[str, object]) -> None:
    assert content_hash(meeting()) != content_hash(meeting(**change))


def test_spans_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="aware"):
        Timed(datetime(2025, 1, 1, 9), datetime(2025, 1, 1, 10))
    with pytest.raises(ValueError, match="before start"):
        Timed(datetime(2025, 1, 1, 10, tzinfo=UTC), datetime(2025, 1, 1, 9, tzinfo=UTC))
    with pytest.raises(ValueError, match="exclusive"):
        AllDay(date(2025, 1, 1), date(2025, 1, 1))
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own error for unknown zones
        Timed(datetime(2025, 1, 1, 9, tzinfo=UTC), datetime(2025, 1, 1, 10, tzinfo=UTC), "Mars/Olympus")
