"""Where the Google emulator must be as demanding as Google: the organizer among the attendees,
reminders/eventType/self on every answer, full Meet data, quiet 429s, JSON errors on unknown
routes, and RDATE/EXDATE in a series. Each test names the real behaviour it pins down."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, BOB, call, timed

from sandbox.client import SandboxControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


def _meeting(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "Plan",
        "attendees": [{"email": BOB}],
        **timed("2026-12-01", "09:00", "10:00"),
        **extra,
    }


async def test_given_guests_when_inserting_then_google_lists_the_organizer_as_an_accepted_attendee(
    alice_events: Any,
) -> None:
    created = await call(alice_events.insert(calendarId="primary", body=_meeting()))
    alone = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "Focus", **timed("2026-12-01", "11:00", "12:00")}
        )
    )

    by_email = {a["email"]: a for a in created["attendees"]}
    assert by_email[ALICE] == {"email": ALICE, "organizer": True, "self": True, "responseStatus": "accepted"}
    assert by_email[BOB]["responseStatus"] == "needsAction" and "self" not in by_email[BOB]
    assert "attendees" not in alone  # no guests, no attendee list


async def test_given_every_kind_of_event_answer_then_each_carries_reminders_event_type_and_self(
    sb: Sandbox, alice_events: Any
) -> None:
    body = {
        **_meeting(),
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
        **timed("2026-12-01", "09:00", "10:00", "UTC"),
    }
    created = await call(alice_events.insert(calendarId="primary", body=body))
    updated = await call(
        alice_events.update(
            calendarId="primary",
            eventId=created["id"],
            body={
                "summary": "Replaced",
                **timed("2026-12-01", "09:00", "10:00", "UTC"),
                "recurrence": body["recurrence"],
            },
        )
    )
    patched = await call(
        alice_events.patch(
            calendarId="primary",
            eventId=created["id"],
            body={"reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]}},
        )
    )
    fetched = await call(alice_events.get(calendarId="primary", eventId=created["id"]))
    listed = (await call(alice_events.list(calendarId="primary")))["items"]
    instances = (await call(alice_events.instances(calendarId="primary", eventId=created["id"])))["items"]

    answers = [created, updated, patched, fetched, *listed, *instances]
    assert len(answers) == 7
    assert all(a["eventType"] == "default" for a in answers)
    assert created["reminders"] == updated["reminders"] == {"useDefault": True}  # update named none
    overrides = {"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]}
    assert patched["reminders"] == fetched["reminders"] == overrides
    assert all(a["creator"] == {"email": ALICE, "self": True} for a in answers)
    assert all(a["organizer"]["self"] is True for a in answers)

    bobs = await call(sb.google_service(BOB).events().get(calendarId="primary", eventId=created["id"]))
    assert "self" not in bobs["creator"] and "self" not in bobs["organizer"]  # not his calendar
    assert bobs["reminders"] and bobs["eventType"] == "default"


async def test_given_a_meet_request_when_created_then_conference_data_has_every_real_entry_point(
    alice_events: Any,
) -> None:
    request = {"createRequest": {"requestId": "r-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    created = await call(
        alice_events.insert(
            calendarId="primary", body=_meeting(conferenceData=request), conferenceDataVersion=1
        )
    )

    data = created["conferenceData"]
    points = {p["entryPointType"]: p for p in data["entryPoints"]}
    assert list(points) == ["video", "more", "phone"]
    code = data["conferenceId"]
    assert points["video"]["uri"] == f"https://meet.google.com/{code}" == created["hangoutLink"]
    assert points["more"]["uri"] == f"https://tel.meet/{code}?pin={points['more']['pin']}"
    assert points["phone"]["uri"].startswith("tel:+") and points["phone"]["pin"].isdigit()
    assert points["phone"]["regionCode"]
    assert data["conferenceSolution"]["iconUri"].startswith("https://")
    assert data["signature"] and data["createRequest"]["status"] == {"statusCode": "success"}


async def test_given_a_429_rule_without_retry_after_when_calling_then_google_sends_no_retry_after(
    alice_events: Any, control: SandboxControl
) -> None:
    await control.set_fault("google.events.list", error_rate=1.0, error_status=429)
    with pytest.raises(HttpError) as quiet:
        await call(alice_events.list(calendarId="primary"))
    await control.set_fault("google.events.list", error_rate=1.0, error_status=429, retry_after=7)
    with pytest.raises(HttpError) as told:
        await call(alice_events.list(calendarId="primary"))

    assert quiet.value.status_code == 429 and "retry-after" not in quiet.value.resp
    assert quiet.value.error_details[0]["reason"] == "rateLimitExceeded"
    assert told.value.resp["retry-after"] == "7"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/calendar/v3/nowhere"), ("POST", "/calendar/v3/users/me/calendarList")]
)
async def test_given_an_unknown_route_when_calling_then_google_answers_its_json_error(
    sb: Sandbox, method: str, path: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sb.info.google_base_url + path) as reply,
    ):
        body = await reply.json()

    assert reply.status == 404 and reply.content_type == "application/json"
    assert body == {
        "error": {
            "code": 404,
            "message": "Not Found",
            "errors": [{"message": "Not Found", "domain": "global", "reason": "notFound"}],
            "status": "NOT_FOUND",
        }
    }


async def test_given_rdate_and_exdate_lines_when_expanding_then_instances_follow_them(
    alice_events: Any,
) -> None:
    timed_series = {
        "summary": "Daily",
        **timed("2026-12-01", "09:00", "09:30", "Europe/Berlin"),
        "recurrence": [
            "RRULE:FREQ=DAILY;COUNT=4",
            "EXDATE;TZID=Europe/Berlin:20261202T090000",
            "EXDATE:20261204T080000Z",  # the same wall-clock time, written in UTC
            "RDATE;TZID=Europe/Berlin:20261210T090000,20261211T090000",
        ],
    }
    all_day_series = {
        "summary": "Holiday",
        "start": {"date": "2026-12-01"},
        "end": {"date": "2026-12-02"},
        "recurrence": [
            "RRULE:FREQ=WEEKLY;COUNT=3",
            "EXDATE;VALUE=DATE:20261208",
            "RDATE;VALUE=DATE:20261224",
        ],
    }
    timed_id = (await call(alice_events.insert(calendarId="primary", body=timed_series)))["id"]
    day_id = (await call(alice_events.insert(calendarId="primary", body=all_day_series)))["id"]

    timed_items = (await call(alice_events.instances(calendarId="primary", eventId=timed_id)))["items"]
    day_items = (await call(alice_events.instances(calendarId="primary", eventId=day_id)))["items"]
    single = await call(
        alice_events.list(calendarId="primary", singleEvents=True, orderBy="startTime", q="Daily")
    )

    assert [i["start"]["dateTime"][:10] for i in timed_items] == [
        "2026-12-01",
        "2026-12-03",
        "2026-12-10",
        "2026-12-11",
    ]
    assert all(i["start"]["dateTime"].endswith("T09:00:00+01:00") for i in timed_items)
    assert timed_items[-1]["id"] == f"{timed_id}_20261211T080000Z"
    assert [i["start"]["date"] for i in day_items] == ["2026-12-01", "2026-12-15", "2026-12-24"]
    assert [i["id"] for i in single["items"]] == [i["id"] for i in timed_items]


async def test_given_a_recurrence_google_cannot_expand_when_inserting_then_400(alice_events: Any) -> None:
    body = {**timed("2026-12-01", "09:00", "10:00", "UTC"), "recurrence": ["RRULE:FREQ=SOMETIMES"]}
    with pytest.raises(HttpError) as caught:
        await call(alice_events.insert(calendarId="primary", body=body))
    assert caught.value.status_code == 400
