"""The EWS listener's pure parts: notifications -> change events, streams planned, catch-ups."""

from __future__ import annotations

from datetime import UTC, datetime

from calbridge.events import ChangeKind, Provider
from ews_listener.notifications import CATCH_UP, RecentEvents, StreamedEvent, change_events
from ews_listener.stream import _as_catch_ups, _beyond_stream_limit
from ews_listener.targets import StreamKey, StreamTarget, plan_streams

CAL = "cal-folder"
AT = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def streamed(kind: str, item: str = "item-1", **extra: object) -> StreamedEvent:
    values: dict[str, object] = {
        "subscription_id": "sub-a",
        "type": kind,
        "item_id": item,
        "changekey": "ck-1",
        "folder_id": CAL,
        "timestamp": AT,
    }
    values.update(extra)
    return StreamedEvent(**values)  # type: ignore[arg-type]


def convert(
    *events: StreamedEvent, recent: RecentEvents | None = None
) -> list[tuple[ChangeKind, str | None]]:
    out = change_events(events, {"sub-a": "ref-a"}, {"ref-a": CAL}, recent or RecentEvents())
    assert all(e.provider is Provider.EWS and e.calendar == "ref-a" for e in out)
    return [(e.kind, e.resource) for e in out]


def test_given_item_events_when_converted_then_each_names_its_item_and_kind() -> None:
    assert convert(
        streamed("CreatedEvent"), streamed("ModifiedEvent", changekey="ck-2"), streamed("DeletedEvent")
    ) == [
        (ChangeKind.CREATED, "item-1"),
        (ChangeKind.UPDATED, "item-1"),
        (ChangeKind.DELETED, "item-1"),
    ]


def test_given_a_move_out_of_the_calendar_then_it_is_a_delete_of_the_old_id() -> None:
    moved_out = streamed(
        "MovedEvent", item="new-id", folder_id="deleted-items", old_item_id="old-id", old_folder_id=CAL
    )
    moved_in = streamed(
        "MovedEvent", item="back-id", folder_id=CAL, old_item_id="x", old_folder_id="deleted-items"
    )
    assert convert(moved_out, moved_in) == [(ChangeKind.DELETED, "old-id"), (ChangeKind.CREATED, "back-id")]


def test_given_the_same_event_twice_then_it_is_published_once_even_across_notifications() -> None:
    recent = RecentEvents()
    assert convert(streamed("ModifiedEvent"), streamed("ModifiedEvent"), recent=recent) == [
        (ChangeKind.UPDATED, "item-1")
    ]
    assert convert(streamed("ModifiedEvent"), recent=recent) == []
    assert convert(streamed("ModifiedEvent", changekey="ck-9"), recent=recent) == [
        (ChangeKind.UPDATED, "item-1")
    ]


def test_given_a_create_then_exchanges_modification_of_the_same_version_then_one_hint() -> None:
    recent = RecentEvents()
    later = AT.replace(second=1)
    assert convert(streamed("CreatedEvent"), recent=recent) == [(ChangeKind.CREATED, "item-1")]
    assert convert(streamed("ModifiedEvent", timestamp=later), recent=recent) == []
    assert convert(streamed("ModifiedEvent", changekey="ck-2", timestamp=later), recent=recent) == [
        (ChangeKind.UPDATED, "item-1")
    ]


def test_given_events_that_name_no_version_or_are_not_modifications_then_each_is_published() -> None:
    recent = RecentEvents()
    assert convert(
        streamed("ModifiedEvent", changekey=None),
        streamed("ModifiedEvent", changekey=None, timestamp=AT.replace(second=1)),
        streamed("DeletedEvent"),
        streamed("ModifiedEvent", item="item-2"),
        recent=recent,
    ) == [
        (ChangeKind.UPDATED, "item-1"),
        (ChangeKind.UPDATED, "item-1"),
        (ChangeKind.DELETED, "item-1"),
        (ChangeKind.UPDATED, "item-2"),
    ]


def test_given_a_small_memory_then_the_oldest_versions_are_forgotten() -> None:
    recent = RecentEvents(size=2)
    assert convert(streamed("CreatedEvent"), streamed("CreatedEvent", item="item-2"), recent=recent) == [
        (ChangeKind.CREATED, "item-1"),
        (ChangeKind.CREATED, "item-2"),
    ]
    assert (
        convert(streamed("ModifiedEvent", item="item-2", timestamp=AT.replace(second=1)), recent=recent) == []
    )
    assert convert(streamed("ModifiedEvent", timestamp=AT.replace(second=1)), recent=recent) == [
        (ChangeKind.UPDATED, "item-1")
    ]


def test_given_an_unknown_subscription_then_nothing_is_published() -> None:
    assert convert(streamed("CreatedEvent", subscription_id="someone-else")) == []


def target(mailbox: str, ref: str, connection: str = "c1") -> StreamTarget:
    return StreamTarget(f"ews-{ref}", ref, connection, mailbox, "primary")


def test_given_calendars_of_several_mailboxes_then_each_mailbox_gets_one_stream_of_at_most_the_limit() -> (
    None
):
    targets = [
        target("a@x.org", "a1"),
        target("a@x.org", "a2"),
        target("a@x.org", "a3"),
        target("b@x.org", "b1"),
    ]
    plan = plan_streams(targets, per_stream=2)
    assert {key: [t.calendar_ref for t in group] for key, group in plan.items()} == {
        StreamKey("c1", "a@x.org", 0): ["a1", "a2"],
        StreamKey("c1", "a@x.org", 1): ["a3"],
        StreamKey("c1", "b@x.org", 0): ["b1"],
    }


def test_given_more_mailboxes_than_streams_then_the_extra_subscriptions_are_let_go() -> None:
    targets = [target(f"u{i}@x.org", f"r{i}") for i in range(4)] + [
        target("v@x.org", "other", connection="c2")
    ]
    assert _beyond_stream_limit(targets, max_streams=3) == ["ews-r3"]


def test_given_an_unconfirmed_batch_then_it_becomes_one_catch_up_per_calendar() -> None:
    events = change_events(
        [streamed("CreatedEvent"), streamed("DeletedEvent", item="item-2")],
        {"sub-a": "ref-a"},
        {},
        RecentEvents(),
    )
    kept = _as_catch_ups(events)
    assert [(e.calendar, e.kind, e.reason) for e in kept] == [("ref-a", ChangeKind.RESYNC, CATCH_UP)]


def test_given_ews_subscription_rows_then_the_renewer_leaves_them_to_the_listener() -> None:
    from subscriptions.reconcile import PairView, plan_reconcile
    from subscriptions.schedule import RowState, SubscriptionRow

    pair = PairView("p1", "g1", "x1", "both", "active")
    rows = [
        SubscriptionRow("ews-x1", "x1", Provider.EWS, RowState.ACTIVE, provider_id="server-sub"),
        SubscriptionRow("chan-g1", "g1", Provider.GOOGLE, RowState.ACTIVE, provider_id="res-1"),
    ]
    plan = plan_reconcile([pair], rows, {"g1": True, "x1": False})
    assert plan.stop == () and plan.create == ()
