"""Event CRUD through the real google-api-python-client: client ids, paging, update/patch/delete,
extended-property filters and what a real Google would have mailed."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, BOB, call, timed

from sandbox.people import EXTERNAL_GUEST
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def test_given_a_client_chosen_id_when_inserting_twice_then_the_second_gets_409_duplicate(
    alice_events: Any,
) -> None:
    body = {
        "id": "0123456789abcdefghijklmnopqrstuv",
        "summary": "Standup",
        **timed("2026-12-01", "09:00", "09:15"),
    }
    created = await call(alice_events.insert(calendarId="primary", body=body, sendUpdates="none"))
    assert created["id"] == body["id"]
    assert created["iCalUID"] == f"{body['id']}@google.com"
    assert created["organizer"]["email"] == ALICE
    assert created["etag"].startswith('"') and created["sequence"] == 0

    with pytest.raises(HttpError) as caught:
        await call(alice_events.insert(calendarId="primary", body=body, sendUpdates="none"))
    assert caught.value.status_code == 409
    assert caught.value.error_details[0]["reason"] == "duplicate"


@pytest.mark.parametrize("bad_id", ["ABCDEF12345", "abcd", "with-dash-0001", "wxyz12345"])
async def test_given_an_id_outside_base32hex_or_too_short_when_inserting_then_400(
    alice_events: Any, bad_id: str
) -> None:
    with pytest.raises(HttpError) as caught:
        await call(
            alice_events.insert(
                calendarId="primary", body={"id": bad_id, **timed("2026-12-01", "09:00", "10:00")}
            )
        )
    assert caught.value.status_code == 400


async def test_given_seven_events_when_listing_three_per_page_then_pages_chain_and_the_sync_token_ends_them(
    alice_events: Any,
) -> None:
    inserted = set()
    for n in range(7):
        event = await call(
            alice_events.insert(
                calendarId="primary", body={"summary": f"e{n}", **timed("2026-12-02", "10:00", "11:00")}
            )
        )
        inserted.add(event["id"])

    seen: list[str] = []
    pages = 0
    page_token = None
    while True:
        page = await call(alice_events.list(calendarId="primary", maxResults=3, pageToken=page_token))
        pages += 1
        seen += [item["id"] for item in page["items"]]
        page_token = page.get("nextPageToken")
        if page_token is None:
            assert "nextSyncToken" in page
            break
        assert "nextSyncToken" not in page

    assert pages == 3
    assert sorted(seen) == sorted(inserted)


async def test_given_an_event_when_patching_then_only_the_named_fields_change(alice_events: Any) -> None:
    created = await call(
        alice_events.insert(
            calendarId="primary",
            body={
                "summary": "Plan",
                "description": "keep me",
                "location": "Room 1",
                **timed("2026-12-03", "10:00", "11:00"),
            },
        )
    )

    patched = await call(
        alice_events.patch(calendarId="primary", eventId=created["id"], body={"summary": "Plan v2"})
    )

    assert patched["summary"] == "Plan v2"
    assert patched["description"] == "keep me"
    assert patched["etag"] != created["etag"]
    assert patched["sequence"] == created["sequence"]  # no time or place change


async def test_given_an_event_when_updating_then_the_body_replaces_it_and_a_time_change_bumps_sequence(
    alice_events: Any,
) -> None:
    created = await call(
        alice_events.insert(
            calendarId="primary",
            body={"summary": "Plan", "description": "old", **timed("2026-12-03", "10:00", "11:00")},
        )
    )

    updated = await call(
        alice_events.update(
            calendarId="primary",
            eventId=created["id"],
            body={"summary": "Moved", **timed("2026-12-03", "12:00", "13:00")},
        )
    )

    assert updated["summary"] == "Moved"
    assert "description" not in updated
    assert updated["start"]["dateTime"].startswith("2026-12-03T13:00:00+01:00")  # shown in Alice's zone
    assert updated["sequence"] == created["sequence"] + 1
    assert updated["id"] == created["id"] and updated["created"] == created["created"]


async def test_given_an_event_when_deleting_then_get_shows_a_cancelled_event_and_a_second_delete_is_410(
    alice_events: Any,
) -> None:
    created = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "Gone soon", **timed("2026-12-04", "10:00", "11:00")}
        )
    )

    await call(alice_events.delete(calendarId="primary", eventId=created["id"]))

    assert (await call(alice_events.get(calendarId="primary", eventId=created["id"])))[
        "status"
    ] == "cancelled"
    listed = await call(alice_events.list(calendarId="primary"))
    assert created["id"] not in [item["id"] for item in listed["items"]]
    with pytest.raises(HttpError) as caught:
        await call(alice_events.delete(calendarId="primary", eventId=created["id"]))
    assert caught.value.status_code == 410


async def test_given_events_marked_with_a_private_property_when_filtering_then_only_those_are_listed(
    alice_events: Any,
) -> None:
    marked = await call(
        alice_events.insert(
            calendarId="primary",
            body={
                "summary": "mirror",
                "extendedProperties": {"private": {"calbridgeSource": "graph:abc", "calbridgePair": "p1"}},
                **timed("2026-12-05", "10:00", "11:00"),
            },
        )
    )
    await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "mine", **timed("2026-12-05", "12:00", "13:00")}
        )
    )
    await call(
        alice_events.insert(
            calendarId="primary",
            body={
                "summary": "shared",
                "extendedProperties": {"shared": {"calbridgeSource": "graph:abc"}},
                **timed("2026-12-05", "14:00", "15:00"),
            },
        )
    )

    found = await call(
        alice_events.list(
            calendarId="primary", privateExtendedProperty=["calbridgeSource=graph:abc", "calbridgePair=p1"]
        )
    )
    none = await call(
        alice_events.list(calendarId="primary", privateExtendedProperty="calbridgeSource=graph:zzz")
    )

    assert [item["id"] for item in found["items"]] == [marked["id"]]
    assert none["items"] == []


async def test_given_attendees_when_writing_then_only_send_updates_all_counts_invitations(
    sb: Sandbox, alice_events: Any
) -> None:
    guests = {"attendees": [{"email": BOB}, {"email": EXTERNAL_GUEST}]}
    quiet = await call(
        alice_events.insert(
            calendarId="primary", body={**guests, **timed("2026-12-06", "10:00", "11:00")}, sendUpdates="none"
        )
    )
    await call(
        alice_events.insert(calendarId="primary", body={**guests, **timed("2026-12-06", "11:00", "12:00")})
    )
    assert sb.counters.invitations == []

    await call(
        alice_events.insert(
            calendarId="primary", body={**guests, **timed("2026-12-06", "12:00", "13:00")}, sendUpdates="all"
        )
    )
    await call(
        alice_events.patch(
            calendarId="primary", eventId=quiet["id"], body={"summary": "x"}, sendUpdates="externalOnly"
        )
    )

    assert [(i.recipients, i.reason) for i in sb.counters.invitations] == [
        (2, "insert sendUpdates=all"),
        (1, "update sendUpdates=externalOnly"),
    ]
    assert sb.counters.send_updates == {"none": 1, "unset": 1, "all": 1, "externalOnly": 1}
    attendees = quiet["attendees"]
    assert {a["email"]: a["responseStatus"] for a in attendees} == {
        ALICE: "accepted",
        BOB: "needsAction",
        EXTERNAL_GUEST: "needsAction",
    }


async def test_given_a_meet_create_request_when_inserting_then_conference_data_only_with_version_1(
    alice_events: Any,
) -> None:
    conference = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    body = {"conferenceData": conference, **timed("2026-12-07", "10:00", "11:00")}

    ignored = await call(alice_events.insert(calendarId="primary", body=body))
    created = await call(alice_events.insert(calendarId="primary", body=body, conferenceDataVersion=1))

    assert "conferenceData" not in ignored
    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert created["hangoutLink"].startswith("https://meet.google.com/")
