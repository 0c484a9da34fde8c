"""EWS streaming notifications -> change events (pure).

A notification names a subscription and carries item events. Only item events of the calendar
folder matter; each becomes a hint for that calendar, with the item id as the resource. Exchange
(and the sandbox) may repeat an event: the same (subscription, type, item, change key, time) is
published once, within a notification and across a bounded window of recent ones. Exchange also
follows a create with a `ModifiedEvent` of the same item and change key (the calendar assistant
touching the new item): a modification that names a version already published says nothing new
and is dropped too, whatever the event that published it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calbridge.events import ChangeEvent, ChangeKind, Provider

__all__ = ["CATCH_UP", "RecentEvents", "StreamedEvent", "catch_up_hint", "change_events", "read_events"]

CATCH_UP = "ews-catch-up"
REASON = "ews-stream"

_KINDS = {
    "CreatedEvent": ChangeKind.CREATED,
    "CopiedEvent": ChangeKind.CREATED,
    "ModifiedEvent": ChangeKind.UPDATED,
    "DeletedEvent": ChangeKind.DELETED,
}


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    """One item event as read off the stream: plain values, no exchangelib objects."""

    subscription_id: str
    type: str  # CreatedEvent, ModifiedEvent, DeletedEvent, MovedEvent, CopiedEvent, ...
    item_id: str | None
    changekey: str | None
    folder_id: str | None
    old_item_id: str | None = None
    old_folder_id: str | None = None
    timestamp: datetime | None = None


def _id(value: Any, name: str = "id") -> str | None:
    return getattr(value, name, None) if value is not None else None


def read_events(notification: Any) -> list[StreamedEvent]:
    """The item events of one exchangelib `Notification` (status heartbeats are dropped)."""
    out = []
    for event in notification.events or ():
        item = getattr(event, "item_id", None)
        old_item = getattr(event, "old_item_id", None)
        if item is None and old_item is None:
            continue  # a StatusEvent, or a folder event
        folder = getattr(event, "parent_folder_id", None) or getattr(event, "folder_id", None)
        old_folder = getattr(event, "old_parent_folder_id", None) or getattr(event, "old_folder_id", None)
        stamp = getattr(event, "timestamp", None)
        out.append(
            StreamedEvent(
                subscription_id=str(notification.subscription_id),
                type=event.ELEMENT_NAME,
                item_id=_id(item),
                changekey=_id(item, "changekey"),
                folder_id=_id(folder),
                old_item_id=_id(old_item),
                old_folder_id=_id(old_folder),
                timestamp=datetime.fromtimestamp(stamp.timestamp(), UTC) if stamp is not None else None,
            )
        )
    return out


def _kind_and_resource(event: StreamedEvent, folder_id: str | None) -> tuple[ChangeKind, str | None]:
    if event.type == "MovedEvent":
        # Out of the calendar (e.g. to Deleted Items) is a delete of the old id; into it, a create.
        if folder_id is not None and event.old_folder_id == folder_id:
            return ChangeKind.DELETED, event.old_item_id
        if folder_id is not None and event.folder_id == folder_id:
            return ChangeKind.CREATED, event.item_id
        return ChangeKind.CHANGED, event.item_id or event.old_item_id
    return _KINDS.get(event.type, ChangeKind.CHANGED), event.item_id


class RecentEvents:
    """A bounded memory of events already published, to drop repeats: the same event again, or a
    modification of an item version (item id and change key) already published."""

    def __init__(self, size: int = 8192) -> None:  # two keys per event published
        self._size = size
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    def first_time(self, event: StreamedEvent) -> bool:
        key = ("event", event.subscription_id, event.type, event.item_id, event.changekey, event.timestamp)
        version = _version(event)
        if self._known(key) or (
            event.type == "ModifiedEvent" and version is not None and self._known(version)
        ):
            return False
        self._remember(key)
        if version is not None:
            self._remember(version)
        return True

    def _known(self, key: tuple[Any, ...]) -> bool:
        if key not in self._seen:
            return False
        self._seen.move_to_end(key)
        return True

    def _remember(self, key: tuple[Any, ...]) -> None:
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)


def _version(event: StreamedEvent) -> tuple[Any, ...] | None:
    """The item version an event names, when it names one (a change key without an item, or an
    item without a change key, names none)."""
    if event.item_id is None or event.changekey is None:
        return None
    return ("version", event.subscription_id, event.item_id, event.changekey)


def change_events(
    events: Iterable[StreamedEvent],
    calendars: Mapping[str, str],
    folders: Mapping[str, str | None],
    recent: RecentEvents,
    *,
    trace_id: str | None = None,
) -> list[ChangeEvent]:
    """Change events for the new item events of known subscriptions.

    `calendars` maps subscription id -> calendar ref, `folders` calendar ref -> the calendar
    folder's id (to tell a move out of the calendar from a move into it)."""
    out = []
    for event in events:
        ref = calendars.get(event.subscription_id)
        if ref is None or not recent.first_time(event):
            continue
        kind, resource = _kind_and_resource(event, folders.get(ref))
        extra: dict[str, Any] = {"trace_id": trace_id} if trace_id else {}
        out.append(
            ChangeEvent(
                provider=Provider.EWS,
                calendar=ref,
                kind=kind,
                resource=resource[:1024] if resource else None,
                version=event.changekey[:256] if event.changekey and kind is not ChangeKind.DELETED else None,
                reason=REASON,
                **extra,
            )
        )
    return out


def catch_up_hint(calendar_ref: str) -> ChangeEvent:
    """Pull everything since the cursor: what the stream may have missed (SyncFolderItems)."""
    return ChangeEvent(provider=Provider.EWS, calendar=calendar_ref, kind=ChangeKind.RESYNC, reason=CATCH_UP)
