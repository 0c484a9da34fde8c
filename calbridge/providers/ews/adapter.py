"""The CalendarProvider for Exchange on-premises over EWS (exchangelib, impersonation).

Exchange Online goes through Graph: Microsoft retires EWS there in 2026-2027 (docs/ews.md).

- reads: SyncFolderItems with the sync state as the cursor, asking for ids only, then one
  GetItem per page with `only_fields` (a full-field GetItem costs several times the CPU, see
  bench/README.md); a master's modified occurrences are fetched too and read as events with
  `instance_of`;
- writes never mail anyone: SendToNone on create, update and delete, and a mirror has no
  attendees at all (see translate.ews);
- creates are idempotent: the stamp lives in extended properties and a create first looks for
  a mirror carrying it (FindItem restricted on them);
- updates read the current change key and write with AutoResolve: a mirror follows its
  source, and a person's edit to it arrives as its own change for the engine to plan (the
  Protocol carries no expected version); an occurrence is addressed by its original start;
- errors: see ews_errors; exchangelib runs FailFast so the bus does the retrying.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

import structlog
from exchangelib import CalendarItem
from exchangelib.errors import ErrorItemNotFound
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.folders.collections import SyncCompleted
from exchangelib.properties import ItemId, RecurringMasterItemId

from calbridge.errors import NotFound
from calbridge.events import Provider
from calbridge.model import Event, Timed
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, Change, ChangePage, Fetched, MirrorStamp, Removed
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.ews.occurrences import fetch_one, find_occurrence, zone_of
from calbridge.providers.ews.recurrence import rules_from_ews
from calbridge.providers.ews.translate import (
    READ_FIELDS,
    SOURCE_FIELD,
    ews_fields,
    fetched_from_ews,
    item_fields,
    register_marks,
)
from calbridge.settings import Settings
from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.recurrence import excluded_starts

__all__ = ["EwsProvider", "open_ews"]

log = structlog.get_logger(__name__)

SEND_NONE = "SendToNone"
_PRIMARY = ("primary", "calendar")


class EwsProvider:
    provider = Provider.EWS

    def __init__(
        self,
        client: EwsClient,
        *,
        detail: Detail = Detail.FULL,
        all_day_zone: str = "UTC",
        page_size: int = 100,
    ) -> None:
        register_marks()
        self.client = client
        self.detail: Detail = detail
        self.all_day_zone = all_day_zone
        self.page_size = page_size

    async def aclose(self) -> None:
        """Stop the client's worker threads and close its HTTP sessions (off the event loop:
        shutting the pool down waits for the calls still running)."""
        await asyncio.to_thread(self.client.close)

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
        stream = SyncStream(folder, cursor, self.page_size)
        while True:
            batch = await self.client.run("SyncFolderItems", stream.take)
            changes = await self._resolve(folder, batch)
            if stream.state is not None:
                yield ChangePage(tuple(changes), stream.state)
                return
            if changes:
                yield ChangePage(tuple(changes), None)

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        """One event by id; an exception of a series comes with its master (`instance_of`)."""
        folder = await self._calendar(calendar)

        def read() -> list[Fetched]:
            items = list(self._get_items(folder, [ItemId(id=event_id)]))
            if not items:
                return []
            master_id = None
            if items[0].type in ("Exception", "Occurrence"):
                master = fetch_one(folder, RecurringMasterItemId(id=event_id), ["changekey"])
                master_id = str(master.id)
            return [fetched_from_ews(item_fields(items[0], master_id=master_id))]

        found = await self.client.run("GetItem", read)
        return found[0] if found else None

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        folder = await self._calendar(calendar)

        def find() -> list[str]:
            # Every mirror of the source (an earlier pair of the same calendars wrote another
            # pair id), then the ones whose stamp matches.
            query = folder.filter(**{SOURCE_FIELD: stamp.source_id})
            return [item_id for item_id, _ in query.values_list("id", "changekey")]

        ids = await self.client.run("FindItem", find)
        if not ids:
            return None
        found = await self.client.run("GetItem", lambda: self._fetch(folder, ids))
        mine = [fetched for fetched in found if stamp.matches(fetched.stamp) and not fetched.event.cancelled]
        if len(mine) > 1:
            log.warning("ews.duplicate_mirrors", count=len(mine))  # kept: the engine decides
        return mine[0] if mine else None

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        """Create a mirror (idempotent for its stamp), or, for an event with `instance_of`, change
        or cancel that occurrence of the series on this calendar."""
        if event.instance_of is not None:
            return await self._write_occurrence(calendar, event, stamp)
        existing = await self.find_mirror(calendar, stamp) if stamp is not None else None
        if existing is not None:
            return existing  # a retried create: the first one landed
        folder = await self._calendar(calendar)
        fields = ews_fields(event, stamp, detail=self.detail, all_day_zone=self.all_day_zone)

        def save() -> str:
            item = CalendarItem(account=folder.account, folder=folder, **fields)
            item.save(send_meeting_invitations=SEND_NONE)
            _cancel_excluded(folder, str(item.id), event)
            return str(item.id)

        item_id = await self.client.run("CreateItem", save)
        return await self._reread(folder, item_id)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        """Replace the item's content. The recurrence is written only when it changed: Exchange
        drops a series' changed and deleted occurrences whenever its pattern is set."""
        folder = await self._calendar(calendar)
        fields = ews_fields(event, stamp, detail=self.detail, all_day_zone=self.all_day_zone)

        def save() -> None:
            current = fetch_one(folder, ItemId(id=event_id), ["changekey", *RECURRENCE_FIELDS])
            names = [n for n in fields if n != "recurrence" or _pattern_changed(current, fields)]
            item = CalendarItem(
                account=folder.account, folder=folder, id=event_id, changekey=current.changekey
            )
            for name in names:
                setattr(item, name, fields[name])
            item.save(
                update_fields=names,
                conflict_resolution="AutoResolve",
                send_meeting_invitations=SEND_NONE,  # UpdateItem: SendMeetingInvitationsOrCancellations
            )
            _cancel_excluded(folder, event_id, event)

        await self.client.run("UpdateItem", save)
        return await self._reread(folder, event_id)

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        folder = await self._calendar(calendar)

        def remove() -> None:
            current = fetch_one(folder, ItemId(id=event_id), ["changekey"])
            item = CalendarItem(
                account=folder.account, folder=folder, id=event_id, changekey=current.changekey
            )
            item.delete(send_meeting_cancellations=SEND_NONE)

        await self.client.run("DeleteItem", remove)

    async def _write_occurrence(
        self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        instance = event.instance_of
        assert instance is not None
        folder = await self._calendar(calendar)
        if event.cancelled:

            def cancel() -> str | None:
                occurrence = find_occurrence(folder, instance.master_id, instance.original_start)
                if occurrence is None:
                    return None  # already cancelled: a retried write
                occurrence.delete(send_meeting_cancellations=SEND_NONE)
                return str(occurrence.id)

            gone = await self.client.run("DeleteItem", cancel)
            return Fetched(replace(event, id=gone or event.id), version="", stamp=stamp)
        fields = ews_fields(event, stamp, detail=self.detail, all_day_zone=self.all_day_zone)
        fields.pop("recurrence", None)  # an occurrence has no pattern of its own

        def change() -> str:
            occurrence = find_occurrence(folder, instance.master_id, instance.original_start)
            if occurrence is None:
                raise ErrorItemNotFound("no such occurrence")
            for name, value in fields.items():
                setattr(occurrence, name, value)
            occurrence.save(
                update_fields=list(fields),
                conflict_resolution="AutoResolve",
                send_meeting_invitations=SEND_NONE,
            )
            return str(occurrence.id)

        item_id = await self.client.run("UpdateItem", change)
        found = await self.client.run(
            "GetItem", lambda: self._fetch(folder, [item_id], master_id=instance.master_id)
        )
        if not found:
            raise NotFound("the occurrence vanished right after it was written")
        return found[0]

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

    def _fetch(
        self, folder: Any, ids: list[str], *, with_exceptions: bool = False, master_id: str | None = None
    ) -> list[Fetched]:
        """GetItem with only the fields translation reads; items gone meanwhile are skipped."""
        items = list(self._get_items(folder, [ItemId(id=i) for i in ids]))
        out = [fetched_from_ews(item_fields(item, master_id=master_id)) for item in items]
        if with_exceptions:
            # A series' changed occurrences, for every master of the page, in one more GetItem.
            masters = {str(o.id): str(m.id) for m in items for o in m.modified_occurrences or ()}
            refs = [ItemId(id=i) for i in masters]
            # GetItem answers in request order: pair each answer with the id asked for.
            for asked, found in zip(masters, self._get_items(folder, refs, keep_gaps=True), strict=True):
                if found is not None:
                    out.append(fetched_from_ews(item_fields(found, master_id=masters[asked])))
        return out

    @staticmethod
    def _get_items(folder: Any, ids: list[ItemId], *, keep_gaps: bool = False) -> Iterator[Any]:
        """The items, in request order; one gone meanwhile is skipped (or None with keep_gaps)."""
        if not ids:
            return
        for result in folder.account.fetch(ids=ids, folder=folder, only_fields=list(READ_FIELDS)):
            if isinstance(result, ErrorItemNotFound):
                if keep_gaps:
                    yield None
                continue
            if isinstance(result, Exception):
                raise result
            yield result


def open_ews(connection: EwsConnection, settings: Settings) -> EwsProvider:
    """The adapter for a stored EWS connection, tuned by the process's settings."""
    client = EwsClient.from_settings(EwsEndpoint.from_connection(connection), settings)
    return EwsProvider(client, page_size=settings.ews_page_size)


class SyncStream:
    """SyncFolderItems as a stream of (change type, item) taken a page at a time. exchangelib
    issues the next request as the stream is drained (until IncludesLastItemInRange) and ends it
    with the new sync state, kept here rather than on the shared, cached folder object."""

    def __init__(self, folder: Any, cursor: str | None, page_size: int) -> None:
        self.state: str | None = None
        self._page_size = page_size
        self._changes = self._run(folder, cursor)

    def take(self) -> list[tuple[str, Any]]:
        """The next page (blocking: may call the server)."""
        return list(islice(self._changes, self._page_size))

    def _run(self, folder: Any, cursor: str | None) -> Iterator[tuple[str, Any]]:
        collection = FolderCollection(account=folder.account, folders=[folder])
        try:
            yield from collection.sync_items(
                sync_state=cursor, only_fields=["changekey"], max_changes_returned=self._page_size
            )
        except SyncCompleted as completed:
            self.state = str(completed.sync_state)


RECURRENCE_FIELDS = ["recurrence", "start", "is_all_day", "_start_timezone", "_end_timezone"]


def _pattern_changed(current: Any, fields: dict[str, Any]) -> bool:
    """Whether writing `fields` changes the item's recurrence: its rule (compared as RRULE
    lines) or the date the series starts from."""
    new = fields.get("recurrence")
    if current.recurrence is None or new is None:
        return current.recurrence is not new
    if current.recurrence.boundary.start != new.boundary.start:
        return True
    zone = zone_of(current)
    all_day = bool(current.is_all_day)
    try:
        return rules_from_ews(current.recurrence, zone=zone, all_day=all_day) != rules_from_ews(
            new, zone=zone, all_day=all_day
        )
    except UnsupportedRecurrence:
        return True


def _cancel_excluded(folder: Any, master_id: str, event: Event) -> None:
    """Delete the occurrences a series' EXDATE lines exclude (EWS keeps them as deleted
    occurrences of the master, not in its pattern). Already deleted ones are skipped."""
    if event.recurrence is None:
        return
    zone = event.span.zone if isinstance(event.span, Timed) else "UTC"
    for original in excluded_starts(event.recurrence.rules, zone):
        occurrence = find_occurrence(folder, master_id, original)
        if occurrence is not None:
            occurrence.delete(send_meeting_cancellations=SEND_NONE)
