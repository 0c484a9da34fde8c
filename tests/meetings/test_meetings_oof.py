"""Reading out-of-office state from each suite's own shapes: pure, with the time given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calbridge.meetings.oof import (
    OFF,
    combine,
    oof_from_ews,
    oof_from_gmail_vacation,
    oof_from_google_events,
    oof_from_graph,
)
from calbridge.meetings.types import Oof

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def graph_time(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


def test_graph_statuses() -> None:
    assert oof_from_graph({"status": "disabled"}, NOW) == OFF
    assert oof_from_graph({"status": "alwaysEnabled"}, NOW) == Oof(active=True)
    span = {
        "status": "scheduled",
        "scheduledStartDateTime": graph_time(NOW - timedelta(days=1)),
        "scheduledEndDateTime": graph_time(NOW + timedelta(days=2)),
    }
    assert oof_from_graph(span, NOW) == Oof(active=True, until=NOW + timedelta(days=2))
    assert oof_from_graph(span, NOW + timedelta(days=3)) == OFF  # scheduled but over
    assert oof_from_graph(None, NOW) == OFF


def test_graph_scheduled_times_in_a_windows_zone() -> None:
    span = {
        "status": "scheduled",
        "scheduledStartDateTime": graph_time(datetime(2026, 11, 23, 8), "W. Europe Standard Time"),
        "scheduledEndDateTime": graph_time(datetime(2026, 11, 24, 18), "W. Europe Standard Time"),
    }
    assert oof_from_graph(span, NOW) == Oof(active=True, until=datetime(2026, 11, 24, 17, tzinfo=UTC))


def test_ews_states() -> None:
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=5)
    assert oof_from_ews("Enabled", start, end, NOW) == Oof(active=True)
    assert oof_from_ews("Scheduled", start, end, NOW) == Oof(active=True, until=end)
    assert oof_from_ews("Scheduled", start, end, NOW + timedelta(hours=6)) == OFF
    assert oof_from_ews("Disabled", start, end, NOW) == OFF


def test_google_out_of_office_events_chain_when_they_touch() -> None:
    def ooo(start: datetime, end: datetime, kind: str = "outOfOffice") -> dict[str, object]:
        return {
            "eventType": kind,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": end.isoformat()},
        }

    first = ooo(NOW - timedelta(hours=2), NOW + timedelta(hours=2))
    second = ooo(NOW + timedelta(hours=2), NOW + timedelta(days=1))
    meeting = ooo(NOW, NOW + timedelta(days=9), kind="default")
    assert oof_from_google_events([second, first, meeting], NOW) == Oof(
        active=True, until=NOW + timedelta(days=1)
    )
    assert oof_from_google_events([second], NOW) == OFF


def test_gmail_vacation_responder() -> None:
    ms = lambda moment: str(int(moment.timestamp() * 1000))  # noqa: E731
    assert oof_from_gmail_vacation({"enableAutoReply": False}, NOW) == OFF
    assert oof_from_gmail_vacation({"enableAutoReply": True}, NOW) == Oof(active=True)
    until = NOW + timedelta(days=3)
    assert oof_from_gmail_vacation({"enableAutoReply": True, "endTime": ms(until)}, NOW) == Oof(True, until)
    later = {"enableAutoReply": True, "startTime": ms(NOW + timedelta(days=1))}
    assert oof_from_gmail_vacation(later, NOW) == OFF


def test_combined_states_last_until_the_latest_end() -> None:
    soon, later = Oof(True, NOW + timedelta(hours=1)), Oof(True, NOW + timedelta(days=1))
    assert combine([OFF, soon, later]) == later
    assert combine([soon, Oof(True)]) == Oof(True)
    assert combine([OFF]) == OFF
