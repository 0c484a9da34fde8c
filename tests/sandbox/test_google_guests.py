"""Guests' copies: an invited Workspace user finds the event on their own calendar."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import ALICE, BOB, call, timed

from sandbox.client import SandboxControl
from sandbox.people import EXTERNAL_GUEST
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


def _with_bob(start: str, end: str) -> dict[str, Any]:
    return {"attendees": [{"email": BOB}], **timed("2026-12-01", start, end)}


async def test_given_alice_invites_bob_without_mail_when_bob_lists_then_he_sees_his_copy(
    sb: Sandbox, alice_events: Any
) -> None:
    body = {
        "summary": "1:1",
        "attendees": [{"email": BOB}, {"email": EXTERNAL_GUEST}],
        "extendedProperties": {"private": {"calbridgeSource": "x"}, "shared": {"topic": "plan"}},
        **timed("2026-12-01", "09:00", "10:00"),
    }
    created = await call(alice_events.insert(calendarId="primary", body=body, sendUpdates="none"))
    bob_events = sb.google_service(BOB).events()

    copy = await call(bob_events.get(calendarId="primary", eventId=created["id"]))

    assert copy["organizer"] == {"email": ALICE, "displayName": "Alice Adams"}
    assert {a["email"]: a.get("self", False) for a in copy["attendees"]} == {
        ALICE: False,
        BOB: True,
        EXTERNAL_GUEST: False,
    }
    assert copy["extendedProperties"] == {"shared": {"topic": "plan"}}  # private stays with Alice's copy
    assert sb.counters.invitations == []


async def test_given_bob_declines_when_alice_reads_then_his_answer_is_on_her_event(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    created = await call(alice_events.insert(calendarId="primary", body=_with_bob("09:00", "10:00")))

    await control.google.respond(BOB, created["id"], BOB, "declined")

    mine = await call(alice_events.get(calendarId="primary", eventId=created["id"]))
    answers = {a["email"]: a["responseStatus"] for a in mine["attendees"]}
    assert answers == {ALICE: "accepted", BOB: "declined"}


async def test_given_bob_is_uninvited_or_the_event_deleted_when_bob_syncs_then_his_copy_is_cancelled(
    sb: Sandbox, alice_events: Any
) -> None:
    bob_events = sb.google_service(BOB).events()
    start = await call(bob_events.list(calendarId="primary"))
    kept = await call(alice_events.insert(calendarId="primary", body=_with_bob("09:00", "10:00")))
    dropped = await call(alice_events.insert(calendarId="primary", body=_with_bob("11:00", "12:00")))

    await call(alice_events.patch(calendarId="primary", eventId=dropped["id"], body={"attendees": []}))
    await call(alice_events.delete(calendarId="primary", eventId=kept["id"]))
    changes = await call(bob_events.list(calendarId="primary", syncToken=start["nextSyncToken"]))

    assert {(i["id"], i["status"]) for i in changes["items"]} == {
        (kept["id"], "cancelled"),
        (dropped["id"], "cancelled"),
    }


async def test_given_guest_copies_switched_off_when_inviting_then_bob_sees_nothing(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    await control.google.set_guest_copies(False)
    await call(alice_events.insert(calendarId="primary", body=_with_bob("09:00", "10:00")))
    assert (await control.google.calendar(BOB))["events"] == []
