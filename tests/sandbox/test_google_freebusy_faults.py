"""Free/busy and injected faults, seen through the real client."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, BOB, CAROL, call, timed

from sandbox.client import SandboxControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def test_given_busy_and_free_events_when_querying_free_busy_then_busy_spans_merge_and_unknowns_error(
    sb: Sandbox, alice_events: Any
) -> None:
    await call(alice_events.insert(calendarId="primary", body=timed("2026-12-01", "09:00", "10:00")))
    await call(alice_events.insert(calendarId="primary", body=timed("2026-12-01", "09:30", "11:00")))
    await call(
        alice_events.insert(
            calendarId="primary",
            body={"transparency": "transparent", **timed("2026-12-01", "13:00", "14:00")},
        )
    )
    freebusy = sb.google_service(ALICE).freebusy()

    answer = await call(freebusy.query(body={
        "timeMin": "2026-12-01T00:00:00Z",
        "timeMax": "2026-12-02T00:00:00Z",
        "items": [{"id": ALICE}, {"id": BOB}, {"id": CAROL}, {"id": "nobody@example.com"}],
    }))  # fmt: skip

    assert answer["kind"] == "calendar#freeBusy"
    assert answer["calendars"][ALICE] == {
        "busy": [{"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T11:00:00Z"}]
    }
    assert answer["calendars"][BOB] == {"busy": []}  # Bob shares his free/busy with Alice
    for hidden in (CAROL, "nobody@example.com"):
        assert answer["calendars"][hidden]["errors"] == [{"domain": "global", "reason": "notFound"}]


async def test_given_a_429_rule_when_inserting_then_the_sdk_raises_http_error_with_retry_after(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    await control.set_fault("google.events.insert", error_rate=1.0, error_status=429, retry_after=7)

    with pytest.raises(HttpError) as caught:
        await call(alice_events.insert(calendarId="primary", body=timed("2026-12-01", "09:00", "10:00")))

    assert caught.value.status_code == 429
    assert caught.value.resp["retry-after"] == "7"
    assert caught.value.error_details[0]["reason"] == "rateLimitExceeded"
    assert (await call(alice_events.list(calendarId="primary")))["items"] == []  # nothing was written
    await control.clear_fault("google.events.insert")
    await call(alice_events.insert(calendarId="primary", body=timed("2026-12-01", "09:00", "10:00")))


async def test_given_a_403_user_rate_limit_rule_when_listing_then_google_reason_is_user_rate_limit_exceeded(
    alice_events: Any, control: SandboxControl
) -> None:
    await control.set_fault("google.*", error_rate=1.0, error_status=403, reason="userRateLimitExceeded")

    with pytest.raises(HttpError) as caught:
        await call(alice_events.list(calendarId="primary"))

    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "userRateLimitExceeded"


async def test_given_a_503_rule_at_half_rate_when_calling_often_then_some_calls_fail_with_backend_error(
    alice_events: Any, control: SandboxControl
) -> None:
    await control.set_fault("google.events.list", error_rate=0.5, error_status=503)
    outcomes = []
    for _ in range(20):
        try:
            await call(alice_events.list(calendarId="primary"))
            outcomes.append("ok")
        except HttpError as exc:
            outcomes.append(exc.error_details[0]["reason"])
    assert {"ok", "backendError"} == set(outcomes)
    counters = await control.counters()
    failed = sum(
        c["count"] for c in counters["calls"] if c["operation"] == "google.events.list" and c["status"] == 503
    )
    assert failed == outcomes.count("backendError")


async def test_given_a_user_quota_when_exceeded_then_403_until_the_minute_has_passed(
    alice_events: Any, control: SandboxControl
) -> None:
    await control.google.set_user_quota(3)
    for _ in range(3):
        await call(alice_events.list(calendarId="primary"))

    with pytest.raises(HttpError) as caught:
        await call(alice_events.list(calendarId="primary"))
    assert caught.value.status_code == 403
    assert caught.value.error_details[0] == {
        "domain": "usageLimits",
        "reason": "userRateLimitExceeded",
        "message": "User Rate Limit Exceeded",
    }

    await control.advance_clock(61)
    assert (await call(alice_events.list(calendarId="primary")))["items"] == []
