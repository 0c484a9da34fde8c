"""LinkRepository in memory: for the single-process demo and for tests of the engine."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from calbridge.pairs.policy import Side
from processor.sync.links import StoredCursor
from processor.sync.record import FALLBACK_MARK, Link

__all__ = ["MemoryLinks"]


class MemoryLinks:
    def __init__(self, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.links: dict[str, dict[int, Link]] = {}
        self.saved_at: dict[int, datetime] = {}  # link row id -> when it was last saved
        self.cursors: dict[str, StoredCursor | None] = {}
        self._ids = itertools.count(1)
        self._now = now

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        for link in self.links.get(pair_id, {}).values():
            if link.id_on(side) == event_id:
                return link
        return None

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        wanted = set(event_ids)
        return {
            event_id: link
            for link in self.links.get(pair_id, {}).values()
            if (event_id := link.id_on(side)) is not None and event_id in wanted
        }

    async def save(self, pair_id: str, link: Link) -> Link:
        rows = self.links.setdefault(pair_id, {})
        for row_id, other in list(rows.items()):
            if row_id != link.row_id and any(
                link.id_on(side) is not None and other.id_on(side) == link.id_on(side) for side in Side
            ):
                del rows[row_id]
        row_id = link.row_id if link.row_id in rows else next(self._ids)
        saved = dataclasses.replace(link, row_id=row_id)
        rows[row_id] = saved
        self.saved_at[row_id] = self._now()
        return saved

    async def count_live(self, pair_id: str) -> int:
        return sum(1 for link in self.links.get(pair_id, {}).values() if not link.deleted)

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        return {
            event_id
            for link in self.links.get(pair_id, {}).values()
            if not link.deleted and (event_id := link.id_on(side)) is not None
        }

    async def linked_saved_since(
        self, pair_id: str, side: Side, since: datetime, *, origins_since: datetime | None = None
    ) -> set[str]:
        def wanted(row_id: int, link: Link) -> bool:
            if link.origin is side:
                return origins_since is not None and self.saved_at[row_id] >= origins_since
            return self.saved_at[row_id] >= since

        return {
            event_id
            for row_id, link in self.links.get(pair_id, {}).items()
            if not link.deleted and wanted(row_id, link) and (event_id := link.id_on(side)) is not None
        }

    async def series_records(self, pair_id: str, side: Side) -> list[Link]:
        return [
            link
            for link in self.links.get(pair_id, {}).values()
            if not link.deleted
            and link.origin is side
            and (link.version_on(side.other) or "").startswith(FALLBACK_MARK)
        ]

    async def load_cursor(self, calendar_ref: str) -> StoredCursor | None:
        return self.cursors.get(calendar_ref)

    async def save_cursor(
        self, calendar_ref: str, cursor: str | None, *, full: bool, read_at: datetime | None = None
    ) -> None:
        self.cursors[calendar_ref] = (
            StoredCursor(cursor, read_at, self._now()) if cursor is not None else None
        )
