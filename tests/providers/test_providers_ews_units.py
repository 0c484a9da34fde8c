"""Pure pieces of the EWS adapter: error mapping, occurrence indexes, the autodiscover cache."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
import requests
from exchangelib import errors as ews
from exchangelib.recurrence import DailyPattern, EndDatePattern, Recurrence, WeeklyPattern
from exchangelib.version import EXCHANGE_2016, Version

from calbridge.errors import (
    AccessDenied,
    CalendarNotFound,
    CredentialRefused,
    CursorExpired,
    NotFound,
    PermanentProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.errors import DEFAULT_BACK_OFF, provider_error
from calbridge.providers.ews.recurrence import occurrence_index


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ews.ErrorInvalidSyncStateData("x"), CursorExpired),
        (ews.ErrorItemNotFound("x"), NotFound),
        (ews.ErrorNonExistentMailbox("x"), CalendarNotFound),
        (ews.ErrorFolderNotFound("x"), CalendarNotFound),
        (ews.ErrorImpersonateUserDenied("x"), AccessDenied),
        (ews.ErrorAccessDenied("x"), AccessDenied),
        (ews.UnauthorizedError("401"), CredentialRefused),
        (ews.ErrorTimeoutExpired("x"), TransientProviderError),
        (ews.ErrorMailboxStoreUnavailable("x"), TransientProviderError),
        (ews.TransportError("connection reset"), TransientProviderError),
        (requests.ConnectionError("refused"), TransientProviderError),
        (ews.ErrorInvalidPropertyRequest("x"), PermanentProviderError),
    ],
)
def test_given_an_exchangelib_error_when_mapped_then_the_specific_calbridge_error(
    raised: Exception, expected: type[Exception]
) -> None:
    assert type(provider_error(raised)) is expected


def test_given_server_busy_with_and_without_back_off_when_mapped_then_throttled_for_that_long() -> None:
    busy = ews.ErrorServerBusy("busy", back_off=2.5)
    bare = ews.ErrorServerBusy("busy")
    assert isinstance(provider_error(busy), Throttled) and provider_error(busy).retry_after == 2.5  # type: ignore[attr-defined]
    assert provider_error(bare).retry_after == DEFAULT_BACK_OFF  # type: ignore[attr-defined]


def test_given_a_programming_error_when_mapped_then_it_is_not_disguised_as_a_provider_error() -> None:
    with pytest.raises(KeyError):
        provider_error(KeyError("bug"))


def test_given_a_weekly_series_when_indexing_occurrences_then_deleted_ones_still_count() -> None:
    series = Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=date(2026, 5, 4), number=6)
    first = datetime(2026, 5, 4, 9, tzinfo=UTC)
    indexes = [
        occurrence_index(series, first, datetime(2026, 5, d, 9, tzinfo=UTC), zone="UTC")
        for d in (4, 6, 11, 13)
    ]
    assert indexes == [1, 2, 3, 4]
    assert (
        occurrence_index(series, first, datetime(2026, 5, 5, 9, tzinfo=UTC), zone="UTC") is None
    )  # a Tuesday
    assert (
        occurrence_index(series, first, datetime(2026, 6, 1, 9, tzinfo=UTC), zone="UTC") is None
    )  # after COUNT


def test_given_an_all_day_daily_series_when_indexing_by_date_then_the_position_in_the_series() -> None:
    series = Recurrence(
        pattern=DailyPattern(interval=2),
        boundary=EndDatePattern(start=date(2026, 5, 4), end=date(2026, 5, 30)),
    )
    assert occurrence_index(series, date(2026, 5, 4), date(2026, 5, 10), zone="Europe/Berlin") == 4
    assert occurrence_index(series, date(2026, 5, 4), date(2026, 5, 11), zone="Europe/Berlin") is None


class MovingEndpoint(EwsClient):
    """An EwsClient whose autodiscover answers from a list (the server moved between lookups)."""

    def __init__(self, endpoints: list[str], now: list[float]) -> None:
        super().__init__(
            EwsEndpoint("svc@example.com", "pw"), threads=1, autodiscover_refresh=3600, clock=lambda: now[0]
        )
        self.endpoints = endpoints
        self.lookups = 0

    def _endpoint(self, mailbox: str) -> tuple[str, Version]:
        self.lookups += 1
        return self.endpoints[min(self.lookups, len(self.endpoints)) - 1], Version(build=EXCHANGE_2016)


def test_given_an_autodiscovered_endpoint_when_the_refresh_interval_passes_then_it_is_looked_up_again() -> (
    None
):
    now = [0.0]
    client = MovingEndpoint(
        ["https://ex1.example/EWS/Exchange.asmx", "https://ex2.example/EWS/Exchange.asmx"], now
    )
    try:
        first = client.account("alice@example.com")
        now[0] = 3599.0
        cached = client.account("ALICE@example.com")
        now[0] = 3601.0
        moved = client.account("alice@example.com")
    finally:
        client.close()
    assert cached is first and client.lookups == 2
    assert moved is not first and moved.protocol.service_endpoint == "https://ex2.example/EWS/Exchange.asmx"


def test_given_a_stored_series_when_updating_then_the_pattern_is_rewritten_only_when_it_changed() -> None:
    from types import SimpleNamespace

    from exchangelib import EWSTimeZone

    from calbridge.providers.ews.adapter import _pattern_changed

    def series(first: date, days: list[int]) -> Recurrence:
        return Recurrence(pattern=WeeklyPattern(interval=1, weekdays=days), start=first, number=6)

    stored = SimpleNamespace(
        recurrence=series(date(2026, 5, 4), [1, 3]), is_all_day=False, _start_timezone=EWSTimeZone("UTC")
    )
    assert not _pattern_changed(stored, {"recurrence": series(date(2026, 5, 4), [1, 3])})
    assert _pattern_changed(stored, {"recurrence": series(date(2026, 5, 11), [1, 3])})  # moved a week
    assert _pattern_changed(stored, {"recurrence": series(date(2026, 5, 4), [1, 4])})
    assert _pattern_changed(stored, {"recurrence": None})


def test_given_a_busy_server_when_every_session_is_out_then_shrinking_the_pool_never_hangs() -> None:
    # Given an account whose server answered "busy" once, and every session of its pool in use
    url = "https://127.0.0.1:9/EWS/Exchange.asmx"  # never called
    client = EwsClient(EwsEndpoint("svc@example.com", "pw", auth="ntlm", ews_url=url), threads=4)
    try:
        account = client._new_account("alice@example.com", url, Version(build=EXCHANGE_2016))
        protocol = account.protocol
        grown = [protocol.get_session() for _ in range(4)]  # four calls at once open four sessions
        for session in grown:
            protocol.release_session(session)
        protocol.decrease_poolsize()
        taken = [protocol.get_session() for _ in range(3)]
        # When the server answers "busy" again (exchangelib shrinks the pool in a worker thread)
        worker = threading.Thread(target=protocol.decrease_poolsize, daemon=True)
        worker.start()
        worker.join(timeout=3)
        # Then the call returns instead of waiting on itself for ever, and the pool keeps its size
        assert not worker.is_alive(), "exchangelib's pool shrink deadlocked"
        for session in taken:
            protocol.release_session(session)
        assert protocol.get_session() is not None
    finally:
        client.close()
