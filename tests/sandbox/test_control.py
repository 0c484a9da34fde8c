"""The control API: a person's edits, whole-calendar state, counters and reset."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import ALICE, BOB, call, timed

from sandbox.client import ControlError, SandboxControl
from sandbox.people import TEAM_CALENDAR
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def test_given_a_person_acting_in_the_ui_when_reading_state_then_every_step_shows(
    alice_events: Any, control: SandboxControl
) -> None:
    lunch = {"summary": "Lunch", "attendees": [{"email": BOB}], **timed("2026-12-01", "12:00", "13:00")}
    created = await control.google.create_event(ALICE, lunch)
    await control.google.respond(ALICE, created["id"], BOB, "declined")
    moved = await control.google.move_event(ALICE, created["id"], TEAM_CALENDAR)

    alice_state = await control.google.calendar(ALICE)
    team_state = await control.google.calendar(TEAM_CALENDAR)
    assert [e["status"] for e in alice_state["events"]] == ["cancelled"]
    answers = {a["email"]: a["responseStatus"] for a in team_state["events"][0]["attendees"]}
    assert answers == {TEAM_CALENDAR: "accepted", BOB: "declined"}  # the new organizer is listed
    assert moved["organizer"]["email"] == TEAM_CALENDAR
    assert (await call(alice_events.get(calendarId=TEAM_CALENDAR, eventId=created["id"])))[
        "summary"
    ] == "Lunch"


async def test_given_person_writes_when_counting_then_they_are_not_api_writes_nor_invitations(
    sb: Sandbox, control: SandboxControl
) -> None:
    await control.google.create_event(
        ALICE, {"attendees": [{"email": BOB}], **timed("2026-12-01", "12:00", "13:00")}
    )
    counters = await control.counters()
    assert counters["invitations"] == [] and counters["send_updates"] == {}


async def test_given_a_used_sandbox_when_reset_then_calendars_faults_and_counters_are_fresh(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    await call(alice_events.insert(calendarId="primary", body=timed("2026-12-01", "09:00", "10:00")))
    await control.set_fault("google.events.get", error_rate=1.0)
    await control.advance_clock(3600)

    await control.reset()

    assert (await control.google.calendar(ALICE))["events"] == []
    assert (await control.google.calendar(TEAM_CALENDAR))["acl"][ALICE] == "owner"
    assert sb.faults.operations == {} and sb.clock.offset.total_seconds() == 0
    assert (await control.counters())["calls"] == []
    # the client's cached token was forgotten too: it gets a 401, refreshes, and goes on
    assert (await call(alice_events.list(calendarId="primary")))["items"] == []


async def test_given_an_unknown_calendar_when_a_person_writes_then_404(control: SandboxControl) -> None:
    with pytest.raises(ControlError) as caught:
        await control.google.create_event("nobody@example.com", timed("2026-12-01", "09:00", "10:00"))
    assert caught.value.status == 404


async def test_given_an_unknown_fault_field_when_setting_then_400(control: SandboxControl) -> None:
    with pytest.raises(ControlError) as caught:
        await control.call("PUT", "/faults/operations/google.events.list", {"eror_rate": 1})
    assert caught.value.status == 400


async def test_given_a_new_secondary_calendar_when_its_owner_writes_through_the_api_then_it_works(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    made = await control.google.add_calendar("c_project@group.calendar.google.com", ALICE, "Project")
    assert made["acl"] == {ALICE: "owner"}
    inserted = await call(
        alice_events.insert(calendarId=made["id"], body=timed("2026-12-01", "09:00", "10:00"))
    )
    assert [e["id"] for e in (await control.google.calendar(made["id"]))["events"]] == [inserted["id"]]
    with pytest.raises(ControlError):
        await control.google.add_calendar(made["id"], ALICE)  # the id is taken
    with pytest.raises(ControlError):
        await control.google.add_calendar("c_other@group.calendar.google.com", "")
    await control.reset()
    listed = await control.call("GET", "/google/calendars")
    assert made["id"] not in {c["id"] for c in listed["calendars"]}
