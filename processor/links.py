"""Where links and cursors live: a small Protocol, and its store implementation.

The engine records a link right after each successful write and a calendar's cursor only after
a whole pass was applied; both go through this interface so the engine is tested without a
database and the store is tested on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store import upsert
from calbridge.store.tables import cursors, links
from processor.policy import Side
from processor.record import Link

__all__ = ["LinkRepository", "StoredLinks"]


class LinkRepository(Protocol):
    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        """The link (live or tombstone) whose id on `side` is `event_id`."""

    async def save(self, pair_id: str, link: Link) -> Link:
        """Record `link`, replacing any older link that names either of its ids."""

    async def count_live(self, pair_id: str) -> int: ...

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        """Ids on `side` of the pair's live links (a full read checks them for absence)."""

    async def load_cursor(self, calendar_ref: str) -> str | None: ...

    async def save_cursor(self, calendar_ref: str, cursor: str | None, *, full: bool) -> None: ...


_ID = {Side.GOOGLE: links.c.google_event_id, Side.MICROSOFT: links.c.microsoft_event_id}


def _row_to_link(row: Any) -> Link:
    return Link(
        origin=Side(row.origin),
        google_id=row.google_event_id,
        microsoft_id=row.microsoft_event_id,
        google_version=row.google_version,
        microsoft_version=row.microsoft_version,
        google_hash=row.google_hash,
        microsoft_hash=row.microsoft_hash,
        deleted=row.deleted,
        row_id=row.id,
    )


def _values(pair_id: str, link: Link) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "origin": link.origin.value,
        "google_event_id": link.google_id,
        "microsoft_event_id": link.microsoft_id,
        "google_version": link.google_version,
        "microsoft_version": link.microsoft_version,
        "google_hash": link.google_hash,
        "microsoft_hash": link.microsoft_hash,
        "deleted": link.deleted,
        "updated_at": datetime.now(UTC),
    }


class StoredLinks:
    """LinkRepository over the store's `links` and `cursors` tables (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        query = sa.select(links).where(links.c.pair_id == pair_id, _ID[side] == event_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _row_to_link(row)

    async def save(self, pair_id: str, link: Link) -> Link:
        values = _values(pair_id, link)
        clashes = [column == value for column, value in _clashing_ids(link) if value is not None]
        async with self._engine.begin() as conn:
            if clashes:
                # A newer link for the same event replaces its tombstone (or a lost create's).
                stale = sa.delete(links).where(links.c.pair_id == pair_id, sa.or_(*clashes))
                if link.row_id is not None:
                    stale = stale.where(links.c.id != link.row_id)
                await conn.execute(stale)
            if link.row_id is not None:
                result = await conn.execute(
                    sa.update(links).where(links.c.id == link.row_id).values(**values)
                )
                if result.rowcount:
                    return link
            key = "google_event_id" if link.google_id is not None else "microsoft_event_id"
            await upsert(conn, links, values, key=("pair_id", key))
            row = (
                await conn.execute(
                    sa.select(links.c.id).where(links.c.pair_id == pair_id, links.c[key] == values[key])
                )
            ).one()
        return dataclasses.replace(link, row_id=row.id)

    async def count_live(self, pair_id: str) -> int:
        query = sa.select(sa.func.count()).where(links.c.pair_id == pair_id, links.c.deleted.is_(False))
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        query = sa.select(_ID[side]).where(
            links.c.pair_id == pair_id, links.c.deleted.is_(False), _ID[side].is_not(None)
        )
        async with self._engine.connect() as conn:
            return {row[0] for row in await conn.execute(query)}

    async def load_cursor(self, calendar_ref: str) -> str | None:
        query = sa.select(cursors.c.cursor).where(cursors.c.calendar_id == calendar_ref)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def save_cursor(self, calendar_ref: str, cursor: str | None, *, full: bool) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {"calendar_id": calendar_ref, "cursor": cursor, "updated_at": now}
        if full:
            values["full_sync_at"] = now
        async with self._engine.begin() as conn:
            await upsert(conn, cursors, values, key=("calendar_id",))


def _clashing_ids(link: Link) -> list[tuple[sa.Column[Any], str | None]]:
    return [(links.c.google_event_id, link.google_id), (links.c.microsoft_event_id, link.microsoft_id)]
