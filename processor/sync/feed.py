"""Reading a calendar's changes: every page since a cursor, and the order to apply them in."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from calbridge.errors import CursorExpired
from calbridge.providers.base import Change, Fetched
from processor.sync.context import CalendarSide
from processor.sync.plan import change_id

__all__ = ["in_apply_order", "read_changes"]

log = structlog.get_logger("calbridge.processor")


async def read_changes(source: CalendarSide, cursor: str | None) -> tuple[list[Change], str | None, bool]:
    """All pages since `cursor`; an expired cursor restarts as a full read (idempotent)."""
    try:
        changes, next_cursor = await _read_pages(source, cursor)
        return changes, next_cursor, cursor is None
    except CursorExpired:
        if cursor is None:
            raise
        log.info("cursor_expired", calendar=source.ref)
        changes, next_cursor = await _read_pages(source, None)
        return changes, next_cursor, True


async def _read_pages(source: CalendarSide, cursor: str | None) -> tuple[list[Change], str | None]:
    changes: list[Change] = []
    next_cursor: str | None = None
    async for page in source.provider.changes(source.address, cursor):
        changes.extend(page.changes)
        next_cursor = page.cursor or next_cursor
    return changes, next_cursor


def _latest(changes: Sequence[Change]) -> list[Change]:
    """A feed may list an id twice across pages: only its last state matters."""
    by_id: dict[str, Change] = {}
    for change in changes:
        by_id.pop(change_id(change), None)
        by_id[change_id(change)] = change
    return list(by_id.values())


def in_apply_order(changes: Sequence[Change]) -> list[Change]:
    """Series masters and single events before exceptions, so an exception finds its series."""
    return sorted(
        _latest(changes),
        key=lambda c: isinstance(c, Fetched) and c.event.instance_of is not None,
    )
