"""exchangelib against the EWS emulator: SyncFolderItems paging and expiry, streaming notifications."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorSubscriptionNotFound,
)

from sandbox.ews.testing import RunningEws, basic_account, sample_world, serve_in_thread
from sandbox.faults import NotificationFaults

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world(minute_seconds=1.0)) as running:
        yield running


def at(hour: int) -> EWSDateTime:
    return EWSDateTime(2026, 5, 6, hour, 0, tzinfo=UTC)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_given_changes_when_syncing_in_pages_then_all_arrive_and_the_state_resumes(ews: RunningEws) -> None:
    acc: Any = basic_account(ews)
    created = []
    for hour in range(8, 13):
        item = CalendarItem(
            account=acc, folder=acc.calendar, subject=f"s{hour}", start=at(hour), end=at(hour + 1)
        )
        item.save(send_meeting_invitations="SendToNone")
        created.append(item)

    first = list(acc.calendar.sync_items(max_changes_returned=2, only_fields=["subject"]))
    state = acc.calendar.item_sync_state
    ews.control.edit_item("alice@example.com", created[0].id, subject="renamed")
    ews.control.delete_item("alice@example.com", created[1].id)
    second = list(acc.calendar.sync_items(sync_state=state, max_changes_returned=2, only_fields=["subject"]))

    assert sorted(i.subject for kind, i in first) == sorted(f"s{h}" for h in range(8, 13))
    assert {kind for kind, _ in first} == {"create"}
    assert ews.counters.calls[("ews.SyncFolderItems", 200)] >= 3  # paged: IncludesLastItemInRange=false twice
    assert sorted((kind, getattr(i, "subject", None)) for kind, i in second) == [
        ("delete", None),
        ("update", "renamed"),
    ]
    assert [i.id for kind, i in second if kind == "delete"] == [created[1].id]


def test_given_expired_sync_state_when_syncing_then_invalid_sync_state_error(ews: RunningEws) -> None:
    acc: Any = basic_account(ews)
    list(acc.calendar.sync_items())
    state = acc.calendar.item_sync_state
    ews.control.expire_sync_states("alice@example.com")
    with pytest.raises(ErrorInvalidSyncStateData):
        list(acc.calendar.sync_items(sync_state=state))


def collect_streaming(
    acc: Any, sub_id: str, sink: list[Any], errors: list[BaseException]
) -> threading.Thread:
    def run() -> None:
        try:
            for notification in acc.calendar.get_streaming_events(sub_id, connection_timeout=1):
                sink.extend(notification.events)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def described(events: list[Any]) -> list[tuple[str, str]]:
    """(event type, "item" or "folder"): folder events carry a folder id and no item id."""
    return [(type(e).__name__, "folder" if e.item_id is None else "item") for e in events]


def test_given_streaming_subscription_when_a_person_edits_then_events_arrive_until_timeout(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    started = time.monotonic()
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    item = ews.control.create_item(
        "alice@example.com", subject="From Outlook", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z"
    )
    ews.control.edit_item("alice@example.com", item["id"], subject="Edited in Outlook")
    ews.control.delete_item("alice@example.com", item["id"])
    thread.join(timeout=10)

    assert not thread.is_alive() and errors == []
    # As Exchange: a new item is stamped again right after its creation, and every item change
    # also modifies the folder.
    assert described(events) == [
        ("CreatedEvent", "item"),
        ("ModifiedEvent", "folder"),
        ("ModifiedEvent", "item"),
        ("ModifiedEvent", "item"),
        ("ModifiedEvent", "folder"),
        ("DeletedEvent", "item"),
        ("ModifiedEvent", "folder"),
    ]
    assert {e.item_id.id for e in events if e.item_id is not None} == {item["id"]}
    assert {e.folder_id.id for e in events if e.item_id is None} == {acc.calendar.id}
    assert events[0].parent_folder_id.id == acc.calendar.id
    assert 1.0 <= time.monotonic() - started < 8  # one scaled minute, then ConnectionStatus Closed

    acc.calendar.unsubscribe(sub_id)
    with pytest.raises(ErrorSubscriptionNotFound):
        list(acc.calendar.get_streaming_events(sub_id, connection_timeout=1))


def test_given_open_stream_when_subscription_is_dropped_then_client_sees_subscription_not_found(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    ews.control.drop_subscription(sub_id)
    thread.join(timeout=5)

    assert [type(e) for e in errors] == [ErrorSubscriptionNotFound]


def test_given_api_move_to_trash_when_streaming_then_a_moved_event_names_the_old_item(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Trash me", start=at(9), end=at(10))
    item.save(send_meeting_invitations="SendToNone")
    old_id = item.id
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    item.move_to_trash(send_meeting_cancellations="SendToNone")
    thread.join(timeout=10)

    assert described(events) == [("MovedEvent", "item"), ("ModifiedEvent", "folder")]
    assert events[0].old_item_id.id == old_id
    assert ews.control.calendar("alice@example.com") == []
    assert [i["subject"] for i in ews.control.calendar("alice@example.com", "deleteditems")] == ["Trash me"]


def test_given_open_stream_when_connections_are_cut_then_client_fails_before_the_timeout(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    assert ews.control.cut_streams("alice@example.com") == 1
    thread.join(timeout=5)

    # A cut ends the response mid-stream; a timeout would end it cleanly with ConnectionStatus Closed.
    assert len(errors) == 1 and "ended prematurely" in str(errors[0])


def test_given_person_moves_item_to_deleted_items_when_syncing_then_calendar_reports_a_delete(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    item = ews.control.create_item(
        "alice@example.com", subject="Person", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z"
    )
    list(acc.calendar.sync_items())
    state = acc.calendar.item_sync_state

    moved = ews.control.move_item("alice@example.com", item["id"], "deleteditems")
    changes = list(acc.calendar.sync_items(sync_state=state))

    assert [(kind, i.id) for kind, i in changes] == [("delete", item["id"])]
    assert moved["id"] != item["id"]


def test_given_the_hanging_connection_limit_when_opening_one_more_stream_then_connection_count_exceeded(
    ews: RunningEws,
) -> None:
    ews.world.max_streaming_connections = 1
    acc: Any = basic_account(ews)
    first_sub = acc.calendar.subscribe_to_streaming()
    second_sub = acc.calendar.subscribe_to_streaming()
    errors: list[BaseException] = []
    thread = collect_streaming(acc, first_sub, [], errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    # Raw SOAP: exchangelib answers this error by shrinking its session pool and waiting for a session.
    answer = requests.post(
        ews.ews_url,
        auth=("svc@example.com", "s3cret"),
        data=STREAMING_REQUEST.format(sub=second_sub).encode(),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=5,
    )
    thread.join(timeout=5)

    assert answer.status_code == 200 and b"ErrorExceededConnectionCount" in answer.content
    assert errors == []


STREAMING_REQUEST = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
    "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>alice@example.com</t:PrimarySmtpAddress>"
    "</t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body><m:GetStreamingEvents>"
    "<m:SubscriptionIds><t:SubscriptionId>{sub}</t:SubscriptionId></m:SubscriptionIds>"
    "<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents></s:Body></s:Envelope>"
)


def test_given_duplicate_notification_fault_when_streaming_then_each_event_arrives_twice(
    ews: RunningEws,
) -> None:
    ews.faults.notifications["ews"] = NotificationFaults(duplicate_rate=1.0)
    acc: Any = basic_account(ews)
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))

    item = ews.control.create_item(
        "alice@example.com", subject="Twice", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z"
    )
    thread.join(timeout=10)

    created = [e for e in events if type(e).__name__ == "CreatedEvent"]
    assert [e.item_id.id for e in created] == [item["id"]] * 2
    assert len(events) == 6  # each of the create's three events, twice


def test_given_affinity_required_when_streaming_then_exchangelib_echoes_the_cookie_and_others_miss(
    ews: RunningEws,
) -> None:
    ews.world.require_affinity = True
    acc: Any = basic_account(ews)
    sub_id = acc.calendar.subscribe_to_streaming()
    events: list[Any] = []
    errors: list[BaseException] = []
    thread = collect_streaming(acc, sub_id, events, errors)
    wait_until(lambda: any(s["connections"] for s in ews.control.subscriptions()))
    ews.control.create_item(
        "alice@example.com", subject="Routed", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z"
    )

    without_cookie = requests.post(
        ews.ews_url,
        auth=("svc@example.com", "s3cret"),
        data=STREAMING_REQUEST.format(sub=sub_id).encode(),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=5,
    )
    thread.join(timeout=10)

    assert errors == []
    assert described(events) == [
        ("CreatedEvent", "item"),
        ("ModifiedEvent", "folder"),
        ("ModifiedEvent", "item"),
    ]
    assert b"ErrorSubscriptionNotFound" in without_cookie.content
