"""An in-memory calendar that implements calbridge's CalendarProvider Protocol honestly.

Not a mock of any SDK: it keeps events by id, bumps a version on every write, keeps a change
log that cursors index into, expires cursors on request, and can fail a write before or after
performing it (the write happened but the caller saw an error), like a timeout would. With
`nets=True` its feed nets like Exchange's (ICS, Graph delta): an event created after the
cursor and deleted since is not reported at all. With `folds_cancellations=True` a cancelled
occurrence is kept on its series like Exchange keeps it (EWS DeletedOccurrences, Graph
cancelledOccurrences): the series gains an EXDATE line and a new version, and its change is
logged, so the series itself comes back in the feed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from calbridge.errors import CursorExpired, NotFound, TransientProviderError
from calbridge.events import Provider
from calbridge.model import Event, EventStatus, Recurrence
from calbridge.providers.base import CalendarAddress, Change, ChangePage, Fetched, MirrorStamp, Removed

Fault = Literal["before", "after"]


class Clock:
    """A shared, strictly increasing clock so "newest" comparisons are deterministic."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(self._ticks))


@dataclass(slots=True)
class Stored:
    event: Event
    version: str
    updated: datetime
    stamp: MirrorStamp | None
    deleted: bool = False

    def fetched(self) -> Fetched:
        return Fetched(self.event, self.version, self.updated, self.stamp)


class FakeCalendar:
    def __init__(
        self,
        provider: Provider,
        prefix: str,
        clock: Clock,
        *,
        removals: Literal["removed", "cancelled"] = "removed",
        page_size: int = 3,
        nets: bool = False,
        folds_cancellations: bool = False,
    ) -> None:
        self.provider = provider
        self.prefix = prefix
        self.clock = clock
        self.removals = removals
        self.page_size = page_size
        self.events: dict[str, Stored] = {}
        self.log: list[str] = []
        self.writes = 0  # writes made through the Protocol (by calbridge), not by people
        self.faults: list[Fault] = []
        self.outside_window: set[str] = set()  # ids a windowed full read does not list
        self.write_error: Exception | None = None  # raised by every write while set
        # Titles this calendar refuses to take, with the error (a provider rejecting one item)
        self.refused: dict[str, Exception] = {}
        self.refusals = 0
        self.access_error: Exception | None = None  # what an access check answers while set
        self.expired_before = 0  # cursors older than this log position are refused
        self.nets = nets
        self.folds_cancellations = folds_cancellations
        self.born: dict[str, int] = {}  # event id -> log position of its creation
        self._ids = itertools.count(1)
        self._versions = itertools.count(1)

    # --- what a person does in the calendar's own app

    def person_create(self, event: Event) -> str:
        event_id = f"{self.prefix}{next(self._ids)}"
        self._store(event_id, dataclasses.replace(event, id=event_id), stamp=None)
        return event_id

    def person_edit(self, event_id: str, **changes: object) -> None:
        stored = self.events[event_id]
        self._store(event_id, dataclasses.replace(stored.event, **changes), stamp=stored.stamp)  # type: ignore[arg-type]

    def person_delete(self, event_id: str) -> None:
        self._remove(event_id)

    def exceptions_of(self, master_id: str) -> list[str]:
        return [
            eid
            for eid, s in self.live().items()
            if s.event.instance_of is not None and s.event.instance_of.master_id == master_id
        ]

    def expire_cursors(self) -> None:
        """Invalidate every cursor handed out so far (Google 410, Graph syncStateNotFound)."""
        self.expired_before = len(self.log) + 1

    def live(self) -> dict[str, Stored]:
        return {eid: s for eid, s in self.events.items() if not s.deleted}

    # --- the Protocol

    async def check_access(self, calendar: CalendarAddress) -> None:
        if self.access_error is not None:
            raise self.access_error

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        if cursor is None:
            found: list[Change] = [
                s.fetched() for eid, s in self.live().items() if eid not in self.outside_window
            ]
        else:
            if int(cursor) < self.expired_before:
                raise CursorExpired("sync token expired")
            ids = list(dict.fromkeys(self.log[int(cursor) :]))
            if self.nets:  # made and deleted since the cursor: as if it never was
                ids = [i for i in ids if not (self.events[i].deleted and self.born[i] >= int(cursor))]
            found = [self._as_change(event_id) for event_id in ids]
        end = str(len(self.log))
        pages = [found[i : i + self.page_size] for i in range(0, len(found), self.page_size)] or [[]]
        for number, page in enumerate(pages):
            yield ChangePage(tuple(page), end if number == len(pages) - 1 else None)

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        stored = self.events.get(event_id)
        return None if stored is None or stored.deleted else stored.fetched()

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        for stored in self.live().values():
            if stamp.matches(stored.stamp):
                return stored.fetched()
        return None

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        self._fail_before(event)
        existing = await self.find_mirror(calendar, stamp) if stamp is not None else None
        if event.instance_of is not None:  # an occurrence's write goes to its series first
            event_id = self._write_occurrence(event, stamp)
        elif existing is not None:
            event_id = existing.event.id  # idempotent for the same stamp
        else:
            event_id = f"{self.prefix}{next(self._ids)}"
            self._store(event_id, dataclasses.replace(event, id=event_id), stamp=stamp)
        self.writes += 1
        self._fail_after()
        return self.events[event_id].fetched()

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        self._fail_before(event)
        stored = self.events.get(event_id)
        if stored is None or stored.deleted:
            raise NotFound(event_id)
        if self.folds_cancellations:
            event = _keeping_folded(stored.event, event)
        self._store(event_id, dataclasses.replace(event, id=event_id), stamp=stamp or stored.stamp)
        self.writes += 1
        self._fail_after()
        return self.events[event_id].fetched()

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        self._fail_before()
        stored = self.events.get(event_id)
        if stored is None or stored.deleted:
            raise NotFound(event_id)
        self._remove(event_id)
        self.writes += 1
        self._fail_after()

    # --- internals

    def _write_occurrence(self, event: Event, stamp: MirrorStamp | None) -> str:
        """Change one occurrence of a series: move/edit it, or cancel it (status CANCELLED)."""
        assert event.instance_of is not None
        master = self.events.get(event.instance_of.master_id)
        if master is None or master.deleted:
            raise NotFound(event.instance_of.master_id)
        same = [
            eid
            for eid in self.exceptions_of(event.instance_of.master_id)
            if self.events[eid].event.instance_of == event.instance_of
        ]
        event_id = same[0] if same else f"{self.prefix}{next(self._ids)}"
        self._store(event_id, dataclasses.replace(event, id=event_id), stamp=stamp)
        if event.cancelled:
            self._remove(event_id)
            if self.folds_cancellations:
                self._fold(master, event.instance_of.original_start)
        return event_id

    def _fold(self, master: Stored, original: datetime | date) -> None:
        moment = (
            original.strftime("%Y%m%dT%H%M%SZ")
            if isinstance(original, datetime)
            else original.strftime("%Y%m%d")
        )
        rules = master.event.recurrence.rules if master.event.recurrence else ()
        if f"EXDATE:{moment}" in rules:
            return  # cancelled already (a retried write): the series stays as it is
        folded = dataclasses.replace(master.event, recurrence=Recurrence((*rules, f"EXDATE:{moment}")))
        self._store(master.event.id, folded, stamp=master.stamp)

    def _store(self, event_id: str, event: Event, stamp: MirrorStamp | None) -> None:
        version = f"v{next(self._versions)}"
        self.events[event_id] = Stored(event, version, self.clock.now(), stamp)
        self.born.setdefault(event_id, len(self.log))
        self.log.append(event_id)

    def _remove(self, event_id: str) -> None:
        for exception_id in self.exceptions_of(event_id):  # a series goes with its exceptions
            self._remove(exception_id)
        stored = self.events[event_id]
        stored.deleted = True
        stored.version = f"v{next(self._versions)}"
        self.log.append(event_id)

    def _as_change(self, event_id: str) -> Change:
        stored = self.events[event_id]
        if not stored.deleted:
            return stored.fetched()
        if self.removals == "removed":
            return Removed(event_id)
        cancelled = dataclasses.replace(stored.event, status=EventStatus.CANCELLED)
        return Fetched(cancelled, stored.version, stored.updated, None)

    def _fail_before(self, event: Event | None = None) -> None:
        if self.write_error is not None:
            raise self.write_error
        if event is not None and event.title in self.refused:
            self.refusals += 1
            raise self.refused[event.title]
        if self.faults and self.faults[0] == "before":
            self.faults.pop(0)
            raise TransientProviderError("injected failure before the write")

    def _fail_after(self) -> None:
        if self.faults and self.faults[0] == "after":
            self.faults.pop(0)
            raise TransientProviderError("injected failure after the write")


def _keeping_folded(stored: Event, event: Event) -> Event:
    """`event` as a series edit leaves it where cancelled occurrences live on the series: an
    edit that keeps the pattern keeps them (Exchange's DeletedOccurrences, Graph's
    cancelledOccurrences); a new pattern starts without."""
    if stored.recurrence is None or event.recurrence is None:
        return event
    old = [line for line in stored.recurrence.rules if not line.startswith("EXDATE")]
    new = [line for line in event.recurrence.rules if not line.startswith("EXDATE")]
    if old != new:
        return event
    kept = [line for line in stored.recurrence.rules if line.startswith("EXDATE")]
    rules = (*event.recurrence.rules, *(line for line in kept if line not in event.recurrence.rules))
    return dataclasses.replace(event, recurrence=Recurrence(rules))
