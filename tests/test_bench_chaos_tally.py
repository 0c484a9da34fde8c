"""The chaos benchmark's verdict: provider state -> lost, duplicated, mismatched, stale."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# Loaded by path: bench/ on sys.path would let its scripts (bench/processor.py, bench/receiver.py)
# shadow the service packages for every test collected after this one.
_SPEC = importlib.util.spec_from_file_location(
    "chaos_tally", Path(__file__).resolve().parents[1] / "bench" / "chaos_tally.py"
)
assert _SPEC is not None and _SPEC.loader is not None
chaos_tally = sys.modules.setdefault("chaos_tally", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(chaos_tally)
Shape, tally = chaos_tally.Shape, chaos_tally.tally
ews_shapes, google_shapes, graph_shapes = (
    chaos_tally.ews_shapes,
    chaos_tally.google_shapes,
    chaos_tally.graph_shapes,
)

SERIES = ["RRULE:FREQ=DAILY;COUNT=5"]


def _google(event_id: str, title: str, **more: object) -> dict[str, object]:
    return {
        "id": event_id,
        "summary": title,
        "status": "confirmed",
        "start": {"dateTime": "2026-12-15T10:00:00Z"},
        "end": {"dateTime": "2026-12-15T11:00:00Z"},
        **more,
    }


def test_given_the_same_series_on_all_three_providers_then_their_shapes_are_equal() -> None:
    google = google_shapes(
        [
            _google("s1", "[k1] Standup v3", recurrence=SERIES, location="Room 1"),
            {
                "id": "s1_20261217T100000Z",
                "recurringEventId": "s1",
                "status": "cancelled",
                "originalStartTime": {"dateTime": "2026-12-17T10:00:00Z"},
            },
        ]
    )
    graph = graph_shapes(
        [
            {
                "subject": "[k1] Standup v3",
                "start": {"dateTime": "2026-12-15T10:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-12-15T11:00:00.0000000", "timeZone": "UTC"},
                "isAllDay": False,
                "location": {"displayName": "Room 1"},
                "recurrence": {"pattern": {"type": "daily"}},
                "cancelledOccurrences": ["20261217T100000Z"],
            }
        ]
    )
    ews = ews_shapes(
        [
            {
                "subject": "[k1] Standup v3",
                "start": "2026-12-15T10:00:00Z",
                "end": "2026-12-15T11:00:00Z",
                "is_all_day": False,
                "location": "Room 1",
                "recurring": True,
                "deleted_occurrences": [3],
            }
        ]
    )
    assert google == graph == ews
    assert google[0].cancelled == frozenset({"2026-12-17"})


def test_given_lost_duplicated_mismatched_and_stale_copies_then_each_is_counted_once() -> None:
    # Given five bench events on pair 0: k1 mirrored well, k2 never mirrored, k3 mirrored twice,
    # k4 mirrored with an old title, k5 deleted at its origin but still mirrored
    def shape(key: str, title: str = "") -> Shape:
        return Shape(key, title or f"[{key}] x", "2026-12-15T10:00Z", "2026-12-15T11:00Z", False)

    calendars = {
        (0, "google"): [shape("k1"), shape("k2"), shape("k3"), shape("k4")],
        (0, "microsoft"): [shape("k1"), shape("k3"), shape("k3"), shape("k4", "[k4] old"), shape("k5")],
    }
    origins = {key: (0, "google") for key in ("k1", "k2", "k3", "k4", "k5")}
    # When the verdict is drawn
    result = tally(origins, calendars)
    # Then
    assert (result.lost, result.duplicated, result.stale) == (["k2"], ["k3"], ["k5"])
    assert result.mismatched == ["k4: title"]
    assert (result.origins, result.deleted, result.converged) == (4, 1, False)
