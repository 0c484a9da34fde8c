"""The providers' request quotas as the sandbox enforces them, and mailboxes made in bulk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from graph_harness import GraphSandbox, graph  # noqa: F401 (fixture)
from sandbox_support import ALICE, BOB, call

from sandbox.client import SandboxControl
from sandbox.server import Sandbox


async def test_given_a_project_quota_when_its_users_together_exceed_it_then_403_rate_limit_for_all(
    sb: Sandbox, control: SandboxControl
) -> None:
    # Given a project allowed 5 calls per minute and users allowed 4 each
    await control.google.quota(projectPerMinute=5, userPerMinute=4)
    alice, bob = sb.google_service(ALICE).events(), sb.google_service(BOB).events()
    # When Alice makes 3 calls and Bob 2, then a sixth call by either is refused for the project
    for events in (alice, alice, alice, bob, bob):
        await call(events.list(calendarId="primary"))
    with pytest.raises(HttpError) as caught:
        await call(bob.list(calendarId="primary"))
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "rateLimitExceeded"
    # And the peaks say what was reached
    quota = await control.google.quota()
    assert quota["peaks"] == {"userPerMinute": 3, "projectPerMinute": 5, "projectPerDay": 5}
    # When the minute has passed, then the project may call again
    await control.advance_clock(61)
    assert (await call(bob.list(calendarId="primary")))["items"] == []


async def test_given_a_daily_quota_when_spent_then_403_daily_limit_until_midnight_pacific(
    sb: Sandbox, control: SandboxControl
) -> None:
    await control.google.quota(projectPerDay=2)
    alice = sb.google_service(ALICE).events()
    await call(alice.list(calendarId="primary"))
    await call(alice.list(calendarId="primary"))
    with pytest.raises(HttpError) as caught:
        await call(alice.list(calendarId="primary"))
    assert caught.value.error_details[0] == {
        "domain": "usageLimits",
        "reason": "dailyLimitExceeded",
        "message": "Daily Limit Exceeded",
    }
    await control.advance_clock(24 * 3600)
    assert (await call(alice.list(calendarId="primary")))["items"] == []


async def test_given_bulk_users_when_created_then_each_has_a_primary_calendar_the_api_serves(
    sb: Sandbox, control: SandboxControl
) -> None:
    answer = await control.google.add_users(1_000, prefix="scale")
    assert answer["first"] == "scale00000@example.com" and answer["last"] == "scale00999@example.com"
    events = sb.google_service("scale00999@example.com").events()
    assert (await call(events.list(calendarId="primary")))["items"] == []
    # a reset forgets them again
    await control.reset()
    assert "scale00999@example.com" not in sb.google.world.users


async def test_given_a_mailbox_request_quota_when_exceeded_then_429_with_retry_after(
    graph: GraphSandbox,  # noqa: F811
) -> None:
    # Given 1,000 mailboxes made in one call, and a quota of 3 requests per window per mailbox
    made = await graph.control.add_users(1_000)
    assert made["last"] == "user00999@example.com" and made["total"] == 1_003
    await graph.control.quota(mailboxRequests=3)
    # When one mailbox is asked 4 times
    statuses: list[Any] = []
    for _ in range(4):
        answer = await graph.raw("GET", "/users/user00500@example.com/events")
        statuses.append((answer.status_code, answer.headers.get("Retry-After")))
    # Then the fourth is refused with a wait, and another mailbox is not affected
    assert [s for s, _ in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1][1]) > 500
    assert (await graph.raw("GET", "/users/user00501@example.com/events")).status_code == 200
    assert (await graph.control.quota())["peaks"]["mailboxRequests"] == 3
    # When the window has passed, then the mailbox may be called again
    graph.clock.advance(timedelta(seconds=601))
    assert (await graph.raw("GET", "/users/user00500@example.com/events")).status_code == 200
