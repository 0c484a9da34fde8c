"""Google failures as calbridge errors: the pure decision, and the real library against
sandbox faults and access rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from providers_support import ALICE, BOB, CAROL, meeting, stamp

from calbridge.errors import (
    AccessDenied,
    AlreadyExists,
    CalendarNotFound,
    CredentialRefused,
    CursorExpired,
    NotFound,
    PermanentProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.providers.base import CalendarAddress
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.google.errors import DEFAULT_BACKOFF, classify, translate_exception
from sandbox.client import SandboxControl
from sandbox.server import Sandbox

HERE = CalendarAddress(ALICE)


@pytest.mark.parametrize(
    ("status", "reasons", "on", "expected"),
    [
        (429, ("rateLimitExceeded",), "event", Throttled),
        (403, ("userRateLimitExceeded",), "event", Throttled),
        (403, ("dailyLimitExceeded",), "listing", Throttled),  # the project's day is spent: wait, not denied
        (403, ("rateLimitExceeded",), "listing", Throttled),
        (403, ("requiredAccessLevel",), "event", AccessDenied),
        (401, ("authError",), "event", AccessDenied),
        (404, ("notFound",), "event", NotFound),
        (404, ("notFound",), "listing", CalendarNotFound),
        (404, ("notFound",), "calendar", CalendarNotFound),
        (403, ("forbiddenForNonOrganizer",), "event", PermanentProviderError),
        (409, ("duplicate",), "calendar", AlreadyExists),
        (410, ("fullSyncRequired",), "listing", CursorExpired),
        (410, ("deleted",), "event", NotFound),
        (400, ("invalid",), "event", PermanentProviderError),
        (500, ("backendError",), "event", TransientProviderError),
        (503, (), "listing", TransientProviderError),
    ],
)
def test_given_an_answer_when_classifying_then_the_error_says_what_to_do(
    status: int, reasons: tuple[str, ...], on: str, expected: type[Exception]
) -> None:
    assert type(classify(status, reasons, None, on=on)) is expected  # type: ignore[arg-type]


def test_given_a_throttle_with_or_without_retry_after_when_classifying_then_the_wait_is_known() -> None:
    hinted = classify(429, (), "12", on="event")
    assert isinstance(hinted, Throttled) and hinted.retry_after == 12 and hinted.asked
    unhinted = classify(403, ("userRateLimitExceeded",), None, on="event")
    assert isinstance(unhinted, Throttled) and unhinted.retry_after == DEFAULT_BACKOFF
    assert not unhinted.asked  # our own first back-off step, not the provider's wish


@pytest.mark.parametrize("status", [500, 503])
def test_given_a_server_error_that_names_a_wait_when_classifying_then_throttled_for_that_wait(
    status: int,
) -> None:
    shed = classify(status, ("backendError",), "4", on="listing")
    assert isinstance(shed, Throttled) and shed.retry_after == 4 and shed.asked


def test_given_an_http_date_retry_after_when_classifying_then_the_wait_runs_until_that_date() -> None:
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    answer = classify(503, (), "Tue, 01 Dec 2026 09:00:30 GMT", on="event", now=now)
    assert isinstance(answer, Throttled) and answer.retry_after == 30


def test_given_a_refused_service_account_key_when_translating_then_the_credential_is_refused() -> None:
    from google.auth.exceptions import RefreshError

    deleted_key = translate_exception(RefreshError("invalid_grant: Invalid JWT Signature."), on="listing")
    no_delegation = translate_exception(RefreshError("unauthorized_client: not authorized"), on="event")
    assert isinstance(deleted_key, CredentialRefused)
    assert type(no_delegation) is AccessDenied  # a grant the admin can give, not a broken key


@pytest.mark.integration
async def test_given_a_429_with_retry_after_when_listing_then_throttled_with_that_wait(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    await control.set_fault("google.events.list", error_rate=1.0, error_status=429, retry_after=7)
    with pytest.raises(Throttled) as caught:
        async for _ in google.changes(HERE, None):
            pass
    assert caught.value.retry_after == 7


@pytest.mark.integration
async def test_given_the_per_user_quota_is_spent_when_writing_then_throttled(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    await control.google.set_user_quota(1)
    await google.get(HERE, "anything00")  # spends the one call
    with pytest.raises(Throttled) as caught:
        await google.create(HERE, meeting(), stamp())
    assert caught.value.retry_after > 0


@pytest.mark.integration
async def test_given_a_503_with_retry_after_when_listing_then_throttled_with_that_wait(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    await control.set_fault("google.events.list", error_rate=1.0, error_status=503, retry_after=3)
    with pytest.raises(Throttled) as caught:
        async for _ in google.changes(HERE, None):
            pass
    assert caught.value.retry_after == 3 and caught.value.asked


@pytest.mark.integration
@pytest.mark.parametrize("status", [500, 503])
async def test_given_a_server_error_when_writing_then_transient(
    google: GoogleCalendar, control: SandboxControl, status: int
) -> None:
    await control.set_fault("google.events.insert", error_rate=1.0, error_status=status)
    with pytest.raises(TransientProviderError):
        await google.create(HERE, meeting(), stamp())


@pytest.mark.integration
async def test_given_an_unreachable_api_when_calling_then_transient(sandbox: Sandbox) -> None:
    adapter = GoogleCalendar.connect(
        sandbox.info.google_service_account,
        api_endpoint="http://127.0.0.1:9/calendar/v3/",  # discard port: nothing listens
        token_uri=sandbox.info.google_token_uri,
        timeout=2,
    )
    try:
        with pytest.raises(TransientProviderError):
            await adapter.get(HERE, "anything00")
    finally:
        adapter.close()


@pytest.mark.integration
async def test_given_calendars_the_owner_may_write_when_checking_access_then_it_passes(
    google: GoogleCalendar, sandbox: Sandbox, control: SandboxControl
) -> None:
    await google.check_access(HERE)
    await google.check_access(CalendarAddress(BOB, sandbox.info.team_calendar))  # Bob is a writer


@pytest.mark.integration
@pytest.mark.parametrize(
    ("owner", "calendar"),
    [
        (CAROL, "team"),  # a reader of the team calendar
        ("mallory@example.com", "primary"),  # not a user the domain delegates for
    ],
)
async def test_given_a_calendar_the_app_may_not_write_when_checking_access_then_access_denied(
    google: GoogleCalendar, sandbox: Sandbox, control: SandboxControl, owner: str, calendar: str
) -> None:
    target = sandbox.info.team_calendar if calendar == "team" else calendar
    with pytest.raises(AccessDenied):
        await google.check_access(CalendarAddress(owner, target))


@pytest.mark.integration
@pytest.mark.parametrize("calendar", ["nobody@example.com", BOB])  # Bob's: Alice sees only free/busy
async def test_given_a_calendar_the_owner_cannot_see_when_checking_access_then_not_found(
    google: GoogleCalendar, control: SandboxControl, calendar: str
) -> None:
    with pytest.raises(NotFound):
        await google.check_access(CalendarAddress(ALICE, calendar))
