"""The CalendarProvider for Exchange on-premises over EWS (exchangelib, impersonation).

Exchange Online goes through Graph: Microsoft retires EWS there in 2026-2027 (docs/ews.md).

- reads: SyncFolderItems with the sync state as the cursor, asking for ids only, then one
  GetItem per page with `only_fields` (a full-field GetItem costs about four times the CPU);
  a master's modified occurrences are fetched too and read as events with `instance_of`;
- writes never mail anyone: SendToNone on create, update and delete, and a mirror has no
  attendees at all (see translate.ews);
- creates are idempotent: the stamp lives in extended properties and a create first looks for
  a mirror carrying it (FindItem restricted on them);
- updates use AutoResolve without a change key: a mirror follows its source, and a person's
  edit to it arrives as its own change for the engine to plan (the Protocol carries no version);
- errors: see ews_errors; exchangelib runs FailFast so the bus does the retrying.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import Any

import structlog
from exchangelib import CalendarItem
from exchangelib.errors import ErrorItemNotFound
from exchangelib.folders import Calendar
from exchangelib.properties import ItemId

from calbridge.errors import NotFound
from calbridge.events import Provider
from calbridge.model import Event
from calbridge.providers.base import CalendarAddress, Change, ChangePage, Fetched, MirrorStamp, Removed
from calbridge.providers.ews_client import EwsClient
from calbridge.translate.ews import (
    PAIR_FIELD,
    READ_FIELDS,
    SOURCE_FIELD,
    ews_fields,
    fetched_from_ews,
    item_fields,
    register_marks,
)
from calbridge.translate.mirror import Detail

__all__ = ["EwsProvider"]

log = structlog.get_logger(__name__)

SEND_NONE = "SendToNone"
_PRIMARY = ("primary", "calendar")


class EwsProvider:
    provider = Provider.EWS

    def __init__(
        self, client: EwsClient, *, detail: Detail = "full", all_day_zone: str = "UTC", page_size: int = 100
    ) -> None:
        register_marks()
        self.client = client
        self.detail: Detail = detail
        self.all_day_zone = all_day_zone
        self.page_size = page_size

    async def check_access(self, calendar: CalendarAddress) -> None:
        """One GetFolder of the mailbox's calendar through impersonation."""

        def probe() -> None:
            account = self.client.account(calendar.owner)
            Calendar.get_distinguished(root=account.root)

        self._require_primary(calendar)
        try:
            await self.client.run("GetFolder", probe)
        except Exception:
            self.client.forget(calendar.owner)  # the next try builds a fresh Account
            raise

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        """Pages of SyncFolderItems since `cursor`; the new sync state comes with the last page."""
        folder = await self._calendar(calendar)

        def start() -> Iterator[tuple[str, Any]]:
            folder.item_sync_state = None  # exchangelib falls back to it when the cursor is None
            return iter(
                folder.sync_items(
                    sync_state=cursor, only_fields=["changekey"], max_changes_returned=self.page_size
                )
            )

        stream = await self.client.run("SyncFolderItems", start)
        done = False
        while not done:
            batch = await self.client.run("SyncFolderItems", lambda: list(islice(stream, self.page_size)))
            done = len(batch) < self.page_size
            changes = await self._resolve(folder, batch)
            state = folder.item_sync_state if done else None
            if changes or done:
                yield ChangePage(tuple(changes), state)

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        folder = await self._calendar(calendar)
        found = await self.client.run("GetItem", lambda: self._fetch(folder, [event_id]))
        return found[0] if found else None

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        folder = await self._calendar(calendar)

        def find() -> list[str]:
            query = folder.filter(**{PAIR_FIELD: stamp.pair_id, SOURCE_FIELD: stamp.source_id})
            return [item_id for item_id, _ in query.values_list("id", "changekey")]

        ids = await self.client.run("FindItem", find)
        if len(ids) > 1:
            log.warning("ews.duplicate_mirrors", count=len(ids))  # kept: the engine decides
        if not ids:
            return None
        found = await self.client.run("GetItem", lambda: self._fetch(folder, ids[:1]))
        return found[0] if found else None

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp) -> Fetched:
        existing = await self.find_mirror(calendar, stamp)
        if existing is not None:
            return existing  # a retried create: the first one landed
        folder = await self._calendar(calendar)
        fields = ews_fields(event, stamp, detail=self.detail, all_day_zone=self.all_day_zone)

        def save() -> str:
            item = CalendarItem(account=folder.account, folder=folder, **fields)
            item.save(send_meeting_invitations=SEND_NONE)
            return str(item.id)

        item_id = await self.client.run("CreateItem", save)
        return await self._reread(folder, item_id)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp
    ) -> Fetched:
        folder = await self._calendar(calendar)
        fields = ews_fields(event, stamp, detail=self.detail, all_day_zone=self.all_day_zone)

        def save() -> None:
            item = CalendarItem(
                account=folder.account, folder=folder, id=event_id, changekey=_changekey(folder, event_id)
            )
            for name, value in fields.items():
                setattr(item, name, value)
            item.save(
                update_fields=list(fields),
                conflict_resolution="AutoResolve",
                send_meeting_invitations=SEND_NONE,  # UpdateItem: SendMeetingInvitationsOrCancellations
            )

        await self.client.run("UpdateItem", save)
        return await self._reread(folder, event_id)

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        folder = await self._calendar(calendar)

        def remove() -> None:
            item = CalendarItem(
                account=folder.account, folder=folder, id=event_id, changekey=_changekey(folder, event_id)
            )
            item.delete(send_meeting_cancellations=SEND_NONE)

        await self.client.run("DeleteItem", remove)

    # --- pieces

    async def _calendar(self, calendar: CalendarAddress) -> Any:
        self._require_primary(calendar)
        return await self.client.run("GetFolder", lambda: self.client.account(calendar.owner).calendar)

    @staticmethod
    def _require_primary(calendar: CalendarAddress) -> None:
        if calendar.calendar not in _PRIMARY:
            raise NotFound("only the mailbox's default calendar is served over EWS")

    async def _reread(self, folder: Any, item_id: str) -> Fetched:
        found = await self.client.run("GetItem", lambda: self._fetch(folder, [item_id]))
        if not found:
            raise NotFound("the item vanished right after it was written")
        return found[0]

    async def _resolve(self, folder: Any, batch: list[tuple[str, Any]]) -> list[Change]:
        """Sync changes -> Fetched/Removed: one GetItem for the page, one more for exceptions."""
        removed = [Removed(str(item.id)) for kind, item in batch if kind == "delete"]
        ids = list(dict.fromkeys(str(item.id) for kind, item in batch if kind in ("create", "update")))
        if not ids:
            return list(removed)
        fetched = await self.client.run("GetItem", lambda: self._fetch(folder, ids, with_exceptions=True))
        return [*fetched, *removed]

    def _fetch(self, folder: Any, ids: list[str], *, with_exceptions: bool = False) -> list[Fetched]:
        """GetItem with only the fields translation reads; items gone meanwhile are skipped."""
        items = list(self._get_items(folder, [ItemId(id=i) for i in ids]))
        out = [fetched_from_ews(item_fields(item)) for item in items]
        if with_exceptions:
            for master in items:
                occurrences = [o.id for o in master.modified_occurrences or ()]
                if occurrences:
                    exceptions = self._get_items(folder, [ItemId(id=i) for i in occurrences])
                    out.extend(fetched_from_ews(item_fields(e, master_id=master.id)) for e in exceptions)
        return out

    @staticmethod
    def _get_items(folder: Any, ids: list[ItemId]) -> Iterator[Any]:
        for result in folder.account.fetch(ids=ids, folder=folder, only_fields=list(READ_FIELDS)):
            if isinstance(result, ErrorItemNotFound):
                continue
            if isinstance(result, Exception):
                raise result
            yield result


def _changekey(folder: Any, item_id: str) -> str:
    """The item's current change key (exchangelib will not write without one); NotFound if gone."""
    (result,) = folder.account.fetch(ids=[ItemId(id=item_id)], folder=folder, only_fields=["changekey"])
    if isinstance(result, Exception):
        raise result
    return str(result.changekey)
