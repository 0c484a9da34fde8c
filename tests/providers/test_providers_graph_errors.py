"""Graph failures as calbridge errors, access checks, and the per-mailbox concurrency cap."""

from __future__ import annotations

import asyncio

import pytest
from providers_support import ALICE, BOB, meeting, stamp

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
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.errors import DEFAULT_BACKOFF, MESSAGE_LIMIT, classify, token_refusal
from calbridge.providers.limits import MailboxLimits
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl
from sandbox.server import Sandbox

HERE = CalendarAddress(ALICE)


@pytest.mark.parametrize(
    ("status", "retry_after", "on", "expected"),
    [
        (429, "3", "event", Throttled),
        (429, None, "listing", Throttled),
        (503, "10", "event", Throttled),
        (503, None, "event", TransientProviderError),
        (504, None, "listing", TransientProviderError),
        (500, None, "event", TransientProviderError),
        (401, None, "event", AccessDenied),
        (403, None, "calendar", AccessDenied),
        (404, None, "event", NotFound),
        (404, None, "listing", CalendarNotFound),
        (404, None, "calendar", CalendarNotFound),
        (410, None, "listing", CursorExpired),
        (410, None, "event", NotFound),
        (400, None, "event", PermanentProviderError),
    ],
)
def test_given_an_answer_when_classifying_then_the_error_says_what_to_do(
    status: int, retry_after: str | None, on: str, expected: type[Exception]
) -> None:
    assert type(classify(status, retry_after, on=on)) is expected  # type: ignore[arg-type]


def test_given_graphs_code_and_message_when_classifying_then_the_error_says_them_on_one_line() -> None:
    error = classify(
        400,
        None,
        on="calendar",
        code="InvalidRequest",
        message="Subscription validation request failed.\r\nhttps://hooks.example.com/in?sig=s3cret&x=1",
    )
    assert isinstance(error, PermanentProviderError)
    assert str(error) == (
        "graph 400 InvalidRequest: Subscription validation request failed. https://hooks.example.com/in?..."
    )
    assert str(classify(404, None, on="event")) == "graph 404"  # nothing said, nothing made up
    long = classify(500, None, on="event", code="ErrorInternalServerError", message="x" * 1000)
    assert len(str(long)) == len("graph 500 ErrorInternalServerError: ") + MESSAGE_LIMIT


def test_given_a_throttle_when_classifying_then_retry_after_is_honoured_or_defaulted() -> None:
    hinted = classify(429, "3", on="event")
    assert isinstance(hinted, Throttled) and hinted.retry_after == 3
    unhinted = classify(429, None, on="event")
    assert isinstance(unhinted, Throttled) and unhinted.retry_after == DEFAULT_BACKOFF
    assert hinted.asked and not unhinted.asked


@pytest.mark.parametrize(
    ("message", "expected", "says"),
    [
        ("AADSTS7000215: Invalid client secret provided.", CredentialRefused, "invalid client secret"),
        ("AADSTS7000222: The provided client secret keys are expired.", CredentialRefused, "expired"),
        ("AADSTS700016: Application not found in the directory.", CredentialRefused, "no such application"),
        ("AADSTS65001: The user or administrator has not consented.", AccessDenied, "token refused"),
    ],
)
def test_given_a_refused_token_when_reading_its_code_then_a_bad_secret_is_not_a_missing_permission(
    message: str, expected: type[Exception], says: str
) -> None:
    refusal = token_refusal(message)
    assert type(refusal) is expected and says in str(refusal)


async def test_given_five_holders_when_limited_to_four_then_never_more_than_four_run() -> None:
    limits = MailboxLimits(4)
    running, peak = 0, 0
    release = asyncio.Event()

    async def work() -> None:
        nonlocal running, peak
        async with limits.hold("Alice@example.com"):
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(work()) for _ in range(5)]
    for _ in range(50):  # let every task reach the gate
        await asyncio.sleep(0)
    assert limits.in_flight("alice@example.com") == 4 and peak == 4
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert limits.in_flight("alice@example.com") == 0 and peak == 4


@pytest.mark.integration
async def test_given_slow_answers_when_five_calls_hit_one_mailbox_then_none_is_throttled(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    made = await graph.create(HERE, meeting(), stamp())
    # Every get takes 0.3 s inside the mailbox: Outlook (and the sandbox) refuses a fifth in flight.
    await control.set_fault("graph.events.get", latency=(0.3, 0.3))
    results = await asyncio.wait_for(asyncio.gather(*(graph.get(HERE, made.event.id) for _ in range(5))), 10)
    assert all(r is not None and r.event.id == made.event.id for r in results)


@pytest.mark.integration
async def test_given_no_cap_when_five_calls_hit_one_mailbox_then_the_sandbox_throttles_the_fifth(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    """The check above can fail: without the cap, the same load is refused."""
    made = await graph.create(HERE, meeting(), stamp())
    graph.limits = MailboxLimits(5)
    await control.set_fault("graph.events.get", latency=(0.3, 0.3))
    results = await asyncio.gather(
        *(graph.get(HERE, made.event.id) for _ in range(5)), return_exceptions=True
    )
    assert any(isinstance(r, Throttled) for r in results)


@pytest.mark.integration
async def test_given_a_429_with_retry_after_when_reading_then_throttled_with_that_wait(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    await control.set_fault("graph.events.delta", error_rate=1.0, error_status=429, retry_after=7)
    with pytest.raises(Throttled) as caught:
        async for _ in graph.changes(HERE, None):
            pass
    assert caught.value.retry_after == 7


@pytest.mark.integration
@pytest.mark.parametrize("status", [500, 503, 504])
async def test_given_a_server_error_when_writing_then_transient(
    graph: GraphCalendar, control: SandboxControl, status: int
) -> None:
    await control.set_fault("graph.events.create", error_rate=1.0, error_status=status)
    with pytest.raises(TransientProviderError):
        await graph.create(HERE, meeting(), stamp())


@pytest.mark.integration
async def test_given_the_mailboxs_own_calendar_when_checking_access_then_it_passes(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    await graph.check_access(HERE)


@pytest.mark.integration
async def test_given_an_access_policy_without_the_mailbox_when_checking_access_then_access_denied(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    await graph_control.set_access([BOB])
    with pytest.raises(AccessDenied):
        await graph.check_access(HERE)
    await graph.check_access(CalendarAddress(BOB))


@pytest.mark.integration
async def test_given_a_wrong_secret_when_checking_access_then_the_credential_is_refused(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    ms = sandbox.info.microsoft
    adapter = GraphCalendar.connect(
        ms["tenant_id"],
        ms["client_id"],
        "not-the-secret",
        authority=ms["graph_authority"],
        graph_url=ms["graph_url"],
        ca_file=str(sandbox.ca_file),
        timeout=10,
    )
    try:
        with pytest.raises(CredentialRefused) as caught:
            await adapter.check_access(HERE)
        assert "AADSTS7000215" in str(caught.value)  # the code the real token endpoint sends
    finally:
        await adapter.aclose()


@pytest.mark.integration
async def test_given_a_calendar_that_does_not_exist_when_checking_access_then_not_found(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    with pytest.raises(NotFound):
        await graph.check_access(CalendarAddress(ALICE, "no-such-calendar"))
    with pytest.raises(NotFound):
        await graph.check_access(CalendarAddress("nobody@example.com"))
