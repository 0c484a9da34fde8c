"""Google push end to end: the sandbox's `events.watch` channels -> the receiver -> RabbitMQ.

Each test runs the real stack (sandbox, uvicorn, AmqpBus through a cuttable proxy, a fresh vhost)
and checks what a user relies on: every change on a watched calendar lands on the bus exactly
once, as a change of the right calendar; nothing signed by someone else ever does; and a broker
outage costs a retry from Google, not a notification.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from receiver_e2e import (
    ALICE,
    ROGUE_KEYS,
    STOLEN_KID_KEYS,
    Stack,
    answered,
    eventually,
    google_deliveries,
    google_token,
    open_stack,
    tampered,
    timed_event,
    watch,
)

from calbridge.events import ChangeKind, Provider

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

ROUTE = "/notifications/google"


@pytest.fixture
async def stack(amqp_url: str) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url) as opened:
        yield opened


@pytest.fixture
def alice_events(stack: Stack) -> Any:
    return stack.sandbox.google_service(ALICE).events()


async def settled(stack: Stack, expected: dict[tuple[str, str, int], int], within: float = 10.0) -> None:
    """Wait until the sandbox recorded the expected answers: (channel, state, status) -> count."""

    async def done() -> bool:
        deliveries = await google_deliveries(stack)
        return all(answered(deliveries, *key) >= count for key, count in expected.items())

    await eventually(done, within, f"the sandbox to record answers {expected}")


async def test_given_a_watched_calendar_when_a_person_edits_it_then_each_change_is_on_the_bus_exactly_once(
    stack: Stack, alice_events: Any
) -> None:
    before = await stack.metrics()
    await watch(stack, alice_events, "chan-ok", google_token("cal_alice", "chan-ok"))
    await settled(stack, {("chan-ok", "sync", 200): 1})

    # When a person creates, edits and deletes an event on the watched calendar
    async with stack.sandbox.control() as control:
        created = await control.google.create_event(ALICE, timed_event("standup"))
        await control.google.edit_event(ALICE, created["id"], {"summary": "stand-up"})
        await control.google.delete_event(ALICE, created["id"])
    await settled(stack, {("chan-ok", "exists", 200): 3})

    # Then the broker holds exactly three change events, all for that calendar
    assert await stack.queued_changes() == 3
    events = await stack.consume_changes(3)
    assert [(e.provider, e.calendar, e.kind) for e in events] == [
        (Provider.GOOGLE, "cal_alice", ChangeKind.CHANGED)
    ] * 3
    numbers = [d["number"] for d in await google_deliveries(stack) if d["state"] == "exists"]
    assert sorted(int(e.version or 0) for e in events) == sorted(numbers)
    # And the receiver counted them: three accepted, the channel's sync message apart
    after = await stack.metrics()
    assert after.notifications("google", "accepted") - before.notifications("google", "accepted") == 3
    assert after.notifications("google", "sync") - before.notifications("google", "sync") == 1


async def test_given_channels_with_forged_or_tampered_tokens_then_their_messages_are_refused_not_enqueued(
    stack: Stack, alice_events: Any
) -> None:
    before = await stack.metrics()
    forged = {
        "chan-rogue": google_token("cal_alice", "chan-rogue", ROGUE_KEYS),  # a key we never issued
        "chan-stolen": google_token("cal_alice", "chan-stolen", STOLEN_KID_KEYS),  # our key id, wrong secret
        "chan-tampered": tampered(google_token("cal_alice", "chan-tampered")),  # ref changed after signing
        "chan-replayed": google_token("cal_alice", "chan-ok"),  # a genuine token, on another channel
    }
    for channel_id, token in forged.items():
        await watch(stack, alice_events, channel_id, token)
    await watch(stack, alice_events, "chan-ok", google_token("cal_alice", "chan-ok"))

    # When a person changes the calendar every channel watches
    async with stack.sandbox.control() as control:
        await control.google.create_event(ALICE, timed_event("review"))

    # Then only the genuine channel's message is accepted; the others get 403, which Google does
    # not retry
    expected = {(c, state, 403): 1 for c in forged for state in ("sync", "exists")}
    await settled(stack, {**expected, ("chan-ok", "exists", 200): 1})
    assert await stack.queued_changes() == 1
    assert [e.calendar for e in await stack.consume_changes(1)] == ["cal_alice"]
    after = await stack.metrics()
    assert after.notifications("google", "forged") - before.notifications("google", "forged") == 8
    assert after.notifications("google", "accepted") - before.notifications("google", "accepted") == 1
    failures = {
        reason: after.value("calbridge_receiver_auth_failures_total", provider="google", reason=reason)
        - before.value("calbridge_receiver_auth_failures_total", provider="google", reason=reason)
        for reason in ("unknown_key", "bad_signature")
    }
    assert failures == {"unknown_key": 2, "bad_signature": 6}


async def test_given_the_broker_is_cut_off_when_google_notifies_then_503_and_its_retry_lands_exactly_once(
    stack: Stack, alice_events: Any
) -> None:
    hub = stack.sandbox.google.hub
    hub.backoff, hub.attempts = 0.5, 5  # retries at +0.5, +1.5, +3.5, +7.5 s: room for a reconnect
    await watch(stack, alice_events, "chan-ok", google_token("cal_alice", "chan-ok"))
    await settled(stack, {("chan-ok", "sync", 200): 1})
    assert await stack.ready()

    # Given the link to the broker is cut: the receiver says it is not ready
    stack.proxy.cut()
    await eventually(stack.not_ready, 5, "/readyz to report 503")

    # When a person changes the calendar, the push is answered 503 (nothing confirmed)
    async with stack.sandbox.control() as control:
        await control.google.create_event(ALICE, timed_event("during the outage"))
    await settled(stack, {("chan-ok", "exists", 503): 1})
    assert await stack.queued_changes() == 0

    # Then, once the broker is back, Google's own retry is accepted and the change lands once
    stack.proxy.restore()
    await settled(stack, {("chan-ok", "exists", 200): 1}, within=15)
    assert await stack.ready()
    assert await stack.queued_changes() == 1
    (event,) = await stack.consume_changes(1)
    exists = [d for d in await google_deliveries(stack) if d["state"] == "exists"]
    assert {d["number"] for d in exists} == {int(event.version or 0)}  # one message, retried
    assert event.calendar == "cal_alice"
