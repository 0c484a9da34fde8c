"""Incremental sync through the real client: sync tokens, tombstones, 410 and refused params."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, call, timed

from sandbox.client import SandboxControl

pytestmark = pytest.mark.integration


async def _full_sync(events: Any, **params: Any) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    page_token = None
    while True:
        page = await call(events.list(calendarId="primary", pageToken=page_token, **params))
        items += page["items"]
        page_token = page.get("nextPageToken")
        if page_token is None:
            return items, page["nextSyncToken"]


async def test_given_a_sync_token_when_events_change_then_the_next_sync_returns_exactly_the_changes(
    alice_events: Any, control: SandboxControl
) -> None:
    kept = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "kept", **timed("2026-12-01", "09:00", "10:00")}
        )
    )
    edited = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "edited", **timed("2026-12-01", "10:00", "11:00")}
        )
    )
    deleted = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "deleted", **timed("2026-12-01", "11:00", "12:00")}
        )
    )
    items, token = await _full_sync(alice_events, maxResults=2)
    assert {i["id"] for i in items} == {kept["id"], edited["id"], deleted["id"]}

    await control.google.edit_event(ALICE, edited["id"], {"summary": "edited by Alice in the UI"})
    await call(alice_events.delete(calendarId="primary", eventId=deleted["id"]))
    added = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "new", **timed("2026-12-02", "09:00", "10:00")}
        )
    )
    changes = await call(alice_events.list(calendarId="primary", syncToken=token))

    by_id = {item["id"]: item for item in changes["items"]}
    assert set(by_id) == {edited["id"], deleted["id"], added["id"]}
    assert by_id[edited["id"]]["summary"] == "edited by Alice in the UI"
    assert by_id[deleted["id"]]["status"] == "cancelled"
    assert "summary" not in by_id[deleted["id"]]  # a tombstone carries only what Google guarantees

    after = await call(alice_events.list(calendarId="primary", syncToken=changes["nextSyncToken"]))
    assert after["items"] == []


async def test_given_an_expired_sync_token_when_syncing_then_410_full_sync_required(
    alice_events: Any, control: SandboxControl
) -> None:
    _, token = await _full_sync(alice_events)
    await control.google.expire_sync_tokens(ALICE)

    with pytest.raises(HttpError) as caught:
        await call(alice_events.list(calendarId="primary", syncToken=token))

    assert caught.value.status_code == 410
    assert caught.value.error_details[0]["reason"] == "fullSyncRequired"
    _, fresh = await _full_sync(alice_events)  # a full sync heals it
    assert (await call(alice_events.list(calendarId="primary", syncToken=fresh)))["items"] == []


@pytest.mark.parametrize(
    "extra",
    [
        {"timeMin": "2026-12-01T00:00:00Z"},
        {"privateExtendedProperty": "a=b"},
        {"orderBy": "updated"},
        {"updatedMin": "2026-12-01T00:00:00Z"},
    ],
)
async def test_given_a_sync_token_with_a_parameter_google_refuses_with_it_then_400(
    alice_events: Any, extra: dict[str, str]
) -> None:
    _, token = await _full_sync(alice_events)
    with pytest.raises(HttpError) as caught:
        await call(alice_events.list(calendarId="primary", syncToken=token, **extra))
    assert caught.value.status_code == 400


async def test_given_a_deleted_event_when_listing_with_show_deleted_then_it_appears_cancelled(
    alice_events: Any,
) -> None:
    created = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "x", **timed("2026-12-01", "09:00", "10:00")}
        )
    )
    await call(alice_events.delete(calendarId="primary", eventId=created["id"]))

    hidden = await call(alice_events.list(calendarId="primary"))
    shown = await call(alice_events.list(calendarId="primary", showDeleted=True))

    assert hidden["items"] == []
    assert [(i["id"], i["status"]) for i in shown["items"]] == [(created["id"], "cancelled")]


async def test_given_a_time_window_when_listing_then_only_overlapping_events_are_returned(
    alice_events: Any,
) -> None:
    inside = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "in", **timed("2026-12-10", "09:00", "10:00")}
        )
    )
    await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "before", **timed("2026-12-01", "09:00", "10:00")}
        )
    )
    await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "after", **timed("2026-12-20", "09:00", "10:00")}
        )
    )

    window = await call(
        alice_events.list(
            calendarId="primary", timeMin="2026-12-09T00:00:00Z", timeMax="2026-12-11T00:00:00Z"
        )
    )

    assert [i["id"] for i in window["items"]] == [inside["id"]]


async def test_given_a_time_zone_parameter_when_listing_then_times_are_shown_in_it(alice_events: Any) -> None:
    await call(
        alice_events.insert(calendarId="primary", body=timed("2026-12-10", "09:00", "10:00", "Europe/Berlin"))
    )

    listed = await call(alice_events.list(calendarId="primary", timeZone="America/New_York"))

    assert listed["items"][0]["start"] == {
        "dateTime": "2026-12-10T03:00:00-05:00",
        "timeZone": "Europe/Berlin",
    }
