"""A person's Exchange meetings and automatic-reply state through the adapters' `EwsClient`
(exchangelib, impersonating the mailbox).

- Meetings: `FindItem` with a `CalendarView` (series expanded into occurrences) for the ids,
  then one `GetItem` with the fields a meeting shows and calbridge's marks (`MEETING_FIELDS`),
  translated by the sync's translator. An occurrence is not asked for its master (one more call
  per series): an occurrence mirrored elsewhere joins its mirror by time and title
  (`calbridge.meetings.merge`). An item's `ChangeKey` changes with every change to it, so what
  `GetItem` read is kept by (id, ChangeKey) in a bounded cache: a list asked again (a room panel,
  a portal refreshing) costs one round trip, `FindItem`, until something changed.
- Out of office: `GetUserOofSettings` (`account.oof_settings`): OofState and its Duration;
  mirrored with `SetUserOofSettings` (a scheduled reply for the span, or Disabled).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calbridge.events import Provider
from calbridge.meetings.oof import oof_from_ews
from calbridge.meetings.oof_mirror import Absence
from calbridge.meetings.types import Oof
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.ews.marks import FACTS_FIELD, PAIR_FIELD, PAIRING_FIELD, SOURCE_FIELD
from calbridge.providers.ews.translate import fetched_from_ews, item_fields

if TYPE_CHECKING:
    from calbridge.providers.ews.client import EwsClient
    from calbridge.providers.ews.connection import EwsConnection

__all__ = ["EwsMeetingSource", "open_ews_meetings"]

MAX_ITEMS = 5000
CACHED_ITEMS = 20_000  # items read by GetItem kept by (id, ChangeKey), least recently used out
# What a meeting of the list shows, of the sync's `READ_FIELDS`: no attendees, recurrence or
# reminders (half the client CPU of a GetItem, see bench/README.md "EWS"); the rest read None.
MEETING_FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "is_all_day",
    "_start_timezone",
    "_end_timezone",
    "legacy_free_busy_status",
    "sensitivity",
    "type",
    "is_cancelled",
    "organizer",
    PAIR_FIELD,
    SOURCE_FIELD,
    PAIRING_FIELD,
    FACTS_FIELD,
)
_REPLY = "I am out of the office."  # an automatic reply turned on from Google (whose event has none)


def _plain(moment: Any) -> datetime | None:
    """An EWSDateTime as a plain aware datetime (exchangelib's refuses other tzinfo classes)."""
    return None if moment is None else datetime.fromtimestamp(moment.timestamp(), UTC)


class _ReadItems:
    """What GetItem read, by (id, ChangeKey): a new ChangeKey is a new version of the item."""

    def __init__(self, size: int = CACHED_ITEMS) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], Fetched] = OrderedDict()
        self._lock = threading.Lock()  # read from the client's worker threads

    def get(self, key: tuple[str, str]) -> Fetched | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], fetched: Fetched) -> None:
        with self._lock:
            self._items[key] = fetched
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class EwsMeetingSource:
    def __init__(self, client: EwsClient, *, cached_items: int = CACHED_ITEMS) -> None:
        self._client = client
        self._read = _ReadItems(cached_items)

    @property
    def provider(self) -> Provider:
        return Provider.EWS

    async def events(self, calendar: CalendarAddress, start: datetime, end: datetime) -> Sequence[Fetched]:
        def read() -> list[Fetched]:
            from exchangelib import EWSDateTime

            folder = self._client.account(calendar.owner).calendar
            first, last = EWSDateTime.from_datetime(start), EWSDateTime.from_datetime(end)
            ids = list(folder.view(start=first, end=last).only("id", "changekey")[:MAX_ITEMS])
            keys = [(str(item.id), str(item.changekey)) for item in ids]
            unread = [item for item, key in zip(ids, keys, strict=True) if self._read.get(key) is None]
            if unread:
                items = folder.account.fetch(ids=unread, folder=folder, only_fields=list(MEETING_FIELDS))
                for asked, item in zip(unread, items, strict=True):
                    if not isinstance(item, Exception):
                        self._read.put(
                            (str(asked.id), str(asked.changekey)), fetched_from_ews(item_fields(item))
                        )
            return [fetched for key in keys if (fetched := self._read.get(key)) is not None]

        return await self._client.run("FindItem", read)

    async def oof(self, address: str, now: datetime) -> Oof:
        settings: Any = await self._client.run(
            "GetUserOofSettings", lambda: self._client.account(address).oof_settings
        )
        return oof_from_ews(str(settings.state), _plain(settings.start), _plain(settings.end), now)

    async def absences(self, address: str, now: datetime) -> list[Absence]:
        settings: Any = await self._client.run(
            "GetUserOofSettings", lambda: self._client.account(address).oof_settings
        )
        state = str(settings.state)
        if state == "Enabled":
            return [Absence(None, None)]
        start, end = _plain(settings.start), _plain(settings.end)
        if state == "Scheduled" and start is not None and end is not None and end > now:
            return [Absence(start, end)]
        return []

    async def put_absence(self, address: str, absence: Absence, pair_id: str) -> str | None:
        from exchangelib import EWSDateTime
        from exchangelib.settings import OofSettings

        def utc(moment: datetime) -> Any:  # exchangelib knows IANA zones, not fixed offsets
            return EWSDateTime.from_datetime(moment.astimezone(UTC))

        if absence.end is None:
            wanted = OofSettings(state=OofSettings.ENABLED, internal_reply=_REPLY, external_reply=_REPLY)
        else:
            wanted = OofSettings(
                state=OofSettings.SCHEDULED,
                start=utc(absence.start or datetime.now(UTC)),
                end=utc(absence.end),
                internal_reply=_REPLY,
                external_reply=_REPLY,
            )
        await self._set(address, wanted)
        return None

    async def clear_absence(self, address: str, absence: Absence) -> None:
        from exchangelib.settings import OofSettings

        await self._set(address, OofSettings(state=OofSettings.DISABLED))

    async def _set(self, address: str, settings: Any) -> None:
        def write() -> None:
            self._client.account(address).oof_settings = settings

        await self._client.run("SetUserOofSettings", write)

    async def aclose(self) -> None:
        self._client.close()


def open_ews_meetings(connection: EwsConnection, *, threads: int = 4) -> EwsMeetingSource:
    """A source over a stored EWS connection, with the sync's own client setup."""
    from calbridge.providers.ews.client import EwsClient, EwsEndpoint

    return EwsMeetingSource(EwsClient(EwsEndpoint.from_connection(connection), threads=threads))
