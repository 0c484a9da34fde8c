"""What each provider's free/busy answer means, read from what its SDK (Graph: its JSON) hands back."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from exchangelib import EWSDateTime
from exchangelib.errors import ErrorMailRecipientNotFound, ErrorNoFreeBusyAccess, ErrorProxyCallFailed
from exchangelib.properties import CalendarEvent, FreeBusyView

from calbridge.errors import AccessDenied, PermanentProviderError, Throttled, TransientProviderError
from calbridge.freebusy.types import AddressError, BusyResult, BusyStatus, ErrorCode
from calbridge.providers.ews.freebusy import parse_views
from calbridge.providers.google.freebusy import parse_freebusy, provider_error
from calbridge.providers.graph.freebusy import parse_schedules

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def blocks(outcome: object) -> list[tuple[datetime, datetime, BusyStatus]]:
    assert isinstance(outcome, BusyResult), outcome
    return [(b.start, b.end, b.status) for b in outcome.busy]


def code(outcome: object) -> ErrorCode:
    assert isinstance(outcome, AddressError), outcome
    return outcome.code


# --- Google freeBusy.query


def test_google_busy_periods_become_busy_blocks_and_calendar_errors_become_address_errors() -> None:
    reply = {
        "kind": "calendar#freeBusy",
        "calendars": {
            "ada@example.com": {
                "busy": [{"start": "2026-11-23T10:00:00+01:00", "end": "2026-11-23T11:00:00+01:00"}]
            },
            "ghost@example.com": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
            "Flaky@Example.com": {"errors": [{"domain": "global", "reason": "backendError"}]},
        },
    }
    answer = parse_freebusy(
        reply, ["ada@example.com", "ghost@example.com", "flaky@example.com", "lost@example.com"]
    )
    assert blocks(answer["ada@example.com"]) == [
        (datetime(2026, 11, 23, 9, tzinfo=UTC), datetime(2026, 11, 23, 10, tzinfo=UTC), BusyStatus.BUSY)
    ]
    assert code(answer["ghost@example.com"]) is ErrorCode.UNKNOWN_ADDRESS
    assert code(answer["flaky@example.com"]) is ErrorCode.PROVIDER_FAILED  # matched case-insensitively
    assert code(answer["lost@example.com"]) is ErrorCode.PROVIDER_FAILED


@pytest.mark.parametrize(
    ("status", "reasons", "retry_after", "expected"),
    [
        (429, set(), "7", Throttled),
        (403, {"rateLimitExceeded"}, None, Throttled),
        (403, {"forbidden"}, None, AccessDenied),
        (401, set(), None, AccessDenied),
        (503, set(), None, TransientProviderError),
        (400, {"timeRangeEmpty"}, None, PermanentProviderError),
    ],
)
def test_google_http_errors_map_to_calbridge_errors(
    status: int, reasons: set[str], retry_after: str | None, expected: type[Exception]
) -> None:
    error = provider_error(status, reasons, retry_after)
    assert type(error) is expected
    if retry_after is not None:
        assert isinstance(error, Throttled) and error.retry_after == 7


# --- Graph getSchedule


def _item(status: str, start: str, end: str, zone: str = "W. Europe Standard Time") -> dict[str, object]:
    return {
        "isPrivate": False,
        "status": status,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
    }


def test_graph_schedule_items_keep_their_status_and_are_read_in_the_zone_they_name() -> None:
    schedules = [  # getSchedule's JSON as sent (statuses capitalised as in Graph's documentation)
        {
            "scheduleId": "Grace@contoso.com",
            "scheduleItems": [
                _item("Busy", "2026-11-23T09:00:00.0000000", "2026-11-23T10:00:00.0000000"),
                _item("tentative", "2026-11-23T11:00:00.0000000", "2026-11-23T12:00:00.0000000"),
                _item("Oof", "2026-11-24T00:00:00.0000000", "2026-11-25T00:00:00.0000000"),
                _item("WorkingElsewhere", "2026-11-23T13:00:00", "2026-11-23T14:00:00", "UTC"),
                _item("Free", "2026-11-23T15:00:00", "2026-11-23T16:00:00"),
            ],
        },
        {
            "scheduleId": "nobody@contoso.com",
            "error": {"responseCode": "ErrorMailRecipientNotFound", "message": "not found"},
        },
        {
            "scheduleId": "private@contoso.com",
            "error": {"responseCode": "ErrorNoFreeBusyAccess", "message": "denied"},
        },
    ]
    answer = parse_schedules(
        schedules,
        ["grace@contoso.com", "nobody@contoso.com", "private@contoso.com", "lost@contoso.com"],
        BERLIN,
    )
    assert blocks(answer["grace@contoso.com"]) == [
        (
            datetime(2026, 11, 23, 9, tzinfo=BERLIN),
            datetime(2026, 11, 23, 10, tzinfo=BERLIN),
            BusyStatus.BUSY,
        ),
        (
            datetime(2026, 11, 23, 11, tzinfo=BERLIN),
            datetime(2026, 11, 23, 12, tzinfo=BERLIN),
            BusyStatus.TENTATIVE,
        ),
        # an all-day event reads as local midnight to midnight in the asked zone
        (datetime(2026, 11, 24, tzinfo=BERLIN), datetime(2026, 11, 25, tzinfo=BERLIN), BusyStatus.OOF),
        (
            datetime(2026, 11, 23, 13, tzinfo=UTC),
            datetime(2026, 11, 23, 14, tzinfo=UTC),
            BusyStatus.WORKING_ELSEWHERE,
        ),
    ]  # free time is not busy time
    assert code(answer["nobody@contoso.com"]) is ErrorCode.UNKNOWN_ADDRESS
    assert code(answer["private@contoso.com"]) is ErrorCode.NOT_PERMITTED
    assert code(answer["lost@contoso.com"]) is ErrorCode.PROVIDER_FAILED


# --- EWS GetUserAvailability


def test_ews_calendar_events_are_read_in_the_asked_zone_and_per_mailbox_errors_stay_per_mailbox() -> None:
    views = [
        FreeBusyView(
            view_type="Detailed",
            calendar_events=[
                CalendarEvent(
                    start=EWSDateTime(2026, 11, 23, 9), end=EWSDateTime(2026, 11, 23, 10), busy_type="Busy"
                ),
                CalendarEvent(
                    start=EWSDateTime(2026, 11, 23, 10), end=EWSDateTime(2026, 11, 23, 11), busy_type="OOF"
                ),
                CalendarEvent(
                    start=EWSDateTime(2026, 11, 23, 12), end=EWSDateTime(2026, 11, 23, 13), busy_type="Free"
                ),
                CalendarEvent(
                    start=EWSDateTime(2026, 11, 23, 14),
                    end=EWSDateTime(2026, 11, 23, 15),
                    busy_type="WorkingElsewhere",
                ),
            ],
        ),
        ErrorMailRecipientNotFound("no such mailbox"),
        ErrorNoFreeBusyAccess("not shared"),
        ErrorProxyCallFailed("other server down"),
    ]
    addresses = [
        "linus@fabrikam.com",
        "ghost@fabrikam.com",
        "private@fabrikam.com",
        "far@fabrikam.com",
        "x@fabrikam.com",
    ]
    answer = parse_views(views, addresses, BERLIN)
    assert [(s.hour, e.hour, st) for s, e, st in blocks(answer["linus@fabrikam.com"])] == [
        (9, 10, BusyStatus.BUSY),
        (10, 11, BusyStatus.OOF),
        (14, 15, BusyStatus.WORKING_ELSEWHERE),
    ]
    starts = [s for s, _, _ in blocks(answer["linus@fabrikam.com"])]
    assert all(type(s) is datetime and s.tzinfo == BERLIN for s in starts)  # plain datetimes, not EWSDateTime
    assert code(answer["ghost@fabrikam.com"]) is ErrorCode.UNKNOWN_ADDRESS
    assert code(answer["private@fabrikam.com"]) is ErrorCode.NOT_PERMITTED
    assert code(answer["far@fabrikam.com"]) is ErrorCode.PROVIDER_FAILED
    assert code(answer["x@fabrikam.com"]) is ErrorCode.PROVIDER_FAILED  # no view came back for it
