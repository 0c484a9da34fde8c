"""Where links and cursors live: a small Protocol, and its store implementation.

The engine records a link right after each successful write and a calendar's cursor only after
a whole pass was applied; both go through this interface so the engine is tested without a
database and the store is tested on SQLite and PostgreSQL alike.

A cursor is stored with the time the read that produced it began (`StoredCursor.read_at`) and
the time it was stored, and the linked events on one side can be listed by when their links were
saved (`linked_saved_since`): together they say which of them the feed from that cursor may never
mention (made, then deleted, after it): our mirrors written since the read began, and people's
events a pass copied after the cursor was stored (that pass failed before storing its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.pairs.policy import Side
from calbridge.store import upsert
from calbridge.store.tables import cursors, links
from processor.sync.record import FALLBACK_MARK, Link

__all__ = ["ForwardingLinks", "LinkRepository", "StoredCursor", "StoredLinks"]


@dataclass(frozen=True, slots=True)
class StoredCursor:
    """A calendar's stored sync position."""

    token: str  # the provider's cursor (syncToken, deltaLink, SyncFolderItems state)
    read_at: datetime | None  # when the read that produced it began; None: not known
    saved_at: datetime | None = dataclasses.field(default=None, compare=False)  # when it was stored


class LinkRepository(Protocol):
    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        """The link (live or tombstone) whose id on `side` is `event_id`."""

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        """The links (live or tombstones) whose id on `side` is one of `event_ids`, by that id."""

    async def save(self, pair_id: str, link: Link) -> Link:
        """Record `link`, replacing any older link that names either of its ids."""

    async def count_live(self, pair_id: str) -> int: ...

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        """Ids on `side` of the pair's live links (a full read checks them for absence)."""

    async def linked_saved_since(
        self, pair_id: str, side: Side, since: datetime, *, origins_since: datetime | None = None
    ) -> set[str]:
        """Ids of the pair's mirrors on `side` (live links whose origin is the other side) whose
        links were saved at or after `since`, and, with `origins_since`, of its events whose
        origin is `side` saved at or after that."""

    async def series_records(self, pair_id: str, side: Side) -> list[Link]:
        """The live links of series made on `side` that are mirrored by a fallback (their
        version on the other side starts with `FALLBACK_MARK`; see `processor.sync.series`)."""

    async def load_cursor(self, calendar_ref: str) -> StoredCursor | None: ...

    async def save_cursor(
        self, calendar_ref: str, cursor: str | None, *, full: bool, read_at: datetime | None = None
    ) -> None:
        """Store the cursor a pass reached; `read_at` is when its read began."""


class ForwardingLinks:
    """A LinkRepository that hands every call to another; the wrappers (`PassLinks`,
    `SharedCursor`, `RecentLinks`) subclass it and override only what they change."""

    def __init__(self, links: LinkRepository) -> None:
        self._links = links

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        return await self._links.find(pair_id, side, event_id)

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        return await self._links.find_many(pair_id, side, event_ids)

    async def save(self, pair_id: str, link: Link) -> Link:
        return await self._links.save(pair_id, link)

    async def count_live(self, pair_id: str) -> int:
        return await self._links.count_live(pair_id)

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        return await self._links.live_ids(pair_id, side)

    async def linked_saved_since(
        self, pair_id: str, side: Side, since: datetime, *, origins_since: datetime | None = None
    ) -> set[str]:
        return await self._links.linked_saved_since(pair_id, side, since, origins_since=origins_since)

    async def series_records(self, pair_id: str, side: Side) -> list[Link]:
        return await self._links.series_records(pair_id, side)

    async def load_cursor(self, calendar_ref: str) -> StoredCursor | None:
        return await self._links.load_cursor(calendar_ref)

    async def save_cursor(
        self, calendar_ref: str, cursor: str | None, *, full: bool, read_at: datetime | None = None
    ) -> None:
        await self._links.save_cursor(calendar_ref, cursor, full=full, read_at=read_at)


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
        google_prior=row.google_prior_hash,
        microsoft_prior=row.microsoft_prior_hash,
        row_id=row.id,
    )


_VALUE_COLUMNS = (
    "pair_id",
    "origin",
    "google_event_id",
    "microsoft_event_id",
    "google_version",
    "microsoft_version",
    "google_hash",
    "microsoft_hash",
    "google_prior_hash",
    "microsoft_prior_hash",
    "deleted",
    "updated_at",
)


def _values(pair_id: str, link: Link, now: datetime) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "origin": link.origin.value,
        "google_event_id": link.google_id,
        "microsoft_event_id": link.microsoft_id,
        "google_version": link.google_version,
        "microsoft_version": link.microsoft_version,
        "google_hash": link.google_hash,
        "microsoft_hash": link.microsoft_hash,
        "google_prior_hash": link.google_prior,
        "microsoft_prior_hash": link.microsoft_prior,
        "deleted": link.deleted,
        "updated_at": now,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoredLinks:
    """LinkRepository over the store's `links` and `cursors` tables (SQLite or PostgreSQL).

    Its statements are built once (`_Statements`) and executed with parameters: building a
    SQLAlchemy statement per call cost more CPU than the database's own work (`bench/README.md`).
    `now` stamps saved links and cursors (the engine's pass clock must agree with it).
    """

    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._sql = _Statements(engine.dialect.name)
        self._now = now

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_FIND[side], {"pair": pair_id, "event": event_id})).first()
        return None if row is None else _row_to_link(row)

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        ids = list(event_ids)
        found: dict[str, Link] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = {"pair": pair_id, "events": ids[start : start + _CHUNK]}
                for row in await conn.execute(_FIND_MANY[side], chunk):
                    link = _row_to_link(row)
                    found[link.id_on(side)] = link  # type: ignore[index]
        return found

    async def save(self, pair_id: str, link: Link) -> Link:
        values = _values(pair_id, link, self._now())
        clashing = tuple(side for side in Side if link.id_on(side) is not None)
        async with self._engine.begin() as conn:
            if clashing and (link.row_id is not None or len(clashing) > 1):
                # A newer link for the same event replaces its tombstone (or a lost create's).
                # A new link with one id needs no delete: the upsert below takes over that row.
                stale = self._sql.stale(clashing, excluding_row=link.row_id is not None)
                await conn.execute(stale, {"pair": pair_id, "row": link.row_id, **_ids(link)})
            if link.row_id is not None:
                result = await conn.execute(_UPDATE, [{"row": link.row_id, **values}])
                if result.rowcount:
                    return link
            side = Side.GOOGLE if link.google_id is not None else Side.MICROSOFT
            row_id = (await conn.execute(self._sql.upsert(side), values)).scalar_one()
        return dataclasses.replace(link, row_id=row_id)

    async def count_live(self, pair_id: str) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(_COUNT_LIVE, {"pair": pair_id})).scalar_one())

    async def live_ids(self, pair_id: str, side: Side) -> set[str]:
        async with self._engine.connect() as conn:
            return {row[0] for row in await conn.execute(_LIVE_IDS[side], {"pair": pair_id})}

    async def linked_saved_since(
        self, pair_id: str, side: Side, since: datetime, *, origins_since: datetime | None = None
    ) -> set[str]:
        origins = origins_since if origins_since is not None else _NEVER
        async with self._engine.connect() as conn:
            found = await conn.execute(
                _LINKED_SAVED_SINCE[side], {"pair": pair_id, "since": since, "origins_since": origins}
            )
            return {row[0] for row in found}

    async def series_records(self, pair_id: str, side: Side) -> list[Link]:
        async with self._engine.connect() as conn:
            return [_row_to_link(row) for row in await conn.execute(_SERIES_RECORDS[side], {"pair": pair_id})]

    async def load_cursor(self, calendar_ref: str) -> StoredCursor | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_LOAD_CURSOR, {"calendar": calendar_ref})).first()
        if row is None or row.cursor is None:
            return None
        # A cursor stored before `read_at` existed: its read began at most a pass before it
        # was saved; an hour is far more than any pass takes.
        read_at = row.read_at if row.read_at is not None else row.updated_at - _UNKNOWN_READ
        return StoredCursor(row.cursor, read_at, row.updated_at)

    async def save_cursor(
        self, calendar_ref: str, cursor: str | None, *, full: bool, read_at: datetime | None = None
    ) -> None:
        now = self._now()
        values: dict[str, Any] = {
            "calendar_id": calendar_ref,
            "cursor": cursor,
            "updated_at": now,
            "read_at": read_at,
        }
        if full:
            values["full_sync_at"] = now
        async with self._engine.begin() as conn:
            await upsert(conn, cursors, values, key=("calendar_id",))


_PAIR: sa.BindParameter[str] = sa.bindparam("pair")
_FIND = {
    side: sa.select(links).where(links.c.pair_id == _PAIR, _ID[side] == sa.bindparam("event"))
    for side in Side
}
_FIND_MANY = {
    side: sa.select(links).where(
        links.c.pair_id == _PAIR, _ID[side].in_(sa.bindparam("events", expanding=True))
    )
    for side in Side
}
_CHUNK = 500  # ids per IN list: well under SQLite's and PostgreSQL's parameter limits
_COUNT_LIVE = sa.select(sa.func.count()).where(links.c.pair_id == _PAIR, links.c.deleted.is_(False))
_LIVE_IDS = {
    side: sa.select(_ID[side]).where(
        links.c.pair_id == _PAIR, links.c.deleted.is_(False), _ID[side].is_not(None)
    )
    for side in Side
}
_LINKED_SAVED_SINCE = {
    side: sa.select(_ID[side]).where(
        links.c.pair_id == _PAIR,
        sa.or_(
            sa.and_(
                links.c.origin == side.other.value,
                links.c.updated_at >= sa.bindparam("since", type_=links.c.updated_at.type),
            ),
            sa.and_(
                links.c.origin == side.value,
                links.c.updated_at >= sa.bindparam("origins_since", type_=links.c.updated_at.type),
            ),
        ),
        links.c.deleted.is_(False),
        _ID[side].is_not(None),
    )
    for side in Side
}
_VERSION = {Side.GOOGLE: links.c.google_version, Side.MICROSOFT: links.c.microsoft_version}
_SERIES_RECORDS = {
    side: sa.select(links).where(
        links.c.pair_id == _PAIR,
        links.c.origin == side.value,
        links.c.deleted.is_(False),
        _VERSION[side.other].like(FALLBACK_MARK + "%"),
    )
    for side in Side
}
_LOAD_CURSOR = sa.select(cursors.c.cursor, cursors.c.read_at, cursors.c.updated_at).where(
    cursors.c.calendar_id == sa.bindparam("calendar")
)
_UNKNOWN_READ = timedelta(hours=1)
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)
# SET columns come from the parameters' keys (every column of `_values`).
_UPDATE = sa.update(links).where(links.c.id == sa.bindparam("row"))
_ID_PARAM = {Side.GOOGLE: "google_id", Side.MICROSOFT: "microsoft_id"}


def _ids(link: Link) -> dict[str, str | None]:
    return {_ID_PARAM[side]: link.id_on(side) for side in Side}


class _Statements:
    """The dialect-specific statements of `StoredLinks`, each built once."""

    def __init__(self, dialect: str) -> None:
        self._dialect = postgresql if dialect == "postgresql" else sqlite
        self._stale: dict[tuple[tuple[Side, ...], bool], sa.Delete] = {}
        self._upsert: dict[Side, Any] = {}

    def stale(self, clashing: tuple[Side, ...], *, excluding_row: bool) -> sa.Delete:
        """Delete the pair's links that name any of the `clashing` sides' ids (but `row`)."""
        key = (clashing, excluding_row)
        if key not in self._stale:
            match = sa.or_(*(_ID[side] == sa.bindparam(_ID_PARAM[side]) for side in clashing))
            statement = sa.delete(links).where(links.c.pair_id == _PAIR, match)
            if excluding_row:
                statement = statement.where(links.c.id != sa.bindparam("row"))
            self._stale[key] = statement
        return self._stale[key]

    def upsert(self, side: Side) -> Any:
        """INSERT ... ON CONFLICT (pair, id on `side`) DO UPDATE ... RETURNING id."""
        if side not in self._upsert:
            key = ("pair_id", _ID[side].name)
            insert = self._dialect.insert(links)
            columns = [name for name in _VALUE_COLUMNS if name not in key]
            self._upsert[side] = insert.on_conflict_do_update(
                index_elements=list(key), set_={c: insert.excluded[c] for c in columns}
            ).returning(links.c.id)
        return self._upsert[side]
