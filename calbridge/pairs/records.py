"""Pairs as read from the store: one row joined with its two calendars, their connections and
the earliest expiry of each calendar's live subscriptions, and for a subscription a listener
holds (EWS streaming: no expiry of its own) until when a listener's lease on it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.errors import CalbridgeError
from calbridge.events import Provider
from calbridge.pairs.policy import ConflictPolicy
from calbridge.pairs.spec import CalendarSpec, Detail, Direction, Side, Via, provider_of, source_sides
from calbridge.pairs.states import PairState
from calbridge.store.tables import calendars, connections, pairs, subscription_leases, subscriptions

__all__ = ["PairNotFound", "PairRecord", "fetch_pair", "fetch_pairs", "listing_key", "page_pairs"]


class PairNotFound(CalbridgeError):
    """No pair has this id."""


@dataclass(frozen=True, slots=True)
class PairRecord:
    id: str
    google: CalendarSpec
    microsoft: CalendarSpec
    via: Via
    direction: Direction
    detail: Detail
    conflict: ConflictPolicy
    state: PairState
    state_reason: str | None
    last_error: str | None
    last_sync_at: datetime | None
    delete_mirrors: bool
    created_at: datetime
    updated_at: datetime
    google_ref: str  # calendar refs: what travels on the bus
    microsoft_ref: str
    google_connection: str  # connection names
    microsoft_connection: str
    google_connection_id: str
    microsoft_connection_id: str
    google_subscription_expires: datetime | None = None
    microsoft_subscription_expires: datetime | None = None
    # A listener's lease on the calendar's streaming subscription runs until (None: none held).
    google_stream_held_until: datetime | None = None
    microsoft_stream_held_until: datetime | None = None
    meeting_links: bool = False
    working_locations: bool = False
    mirror_oof: bool = False  # out-of-office state mirrored between the two people

    def ref(self, side: Side) -> str:
        return self.google_ref if side is Side.GOOGLE else self.microsoft_ref

    def provider(self, side: Side) -> Provider:
        return provider_of(side, self.via)

    def sources(self) -> tuple[Side, ...]:
        return source_sides(self.direction)

    def subscription_expires(self, side: Side) -> datetime | None:
        return (
            self.google_subscription_expires if side is Side.GOOGLE else self.microsoft_subscription_expires
        )

    def stream_held_until(self, side: Side) -> datetime | None:
        return self.google_stream_held_until if side is Side.GOOGLE else self.microsoft_stream_held_until

    def as_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "google": {
                "owner": self.google.owner,
                "calendar": self.google.calendar,
                "ref": self.google_ref,
                "connection": self.google_connection,
                "subscription_expires": when(self.google_subscription_expires),
                "stream_held_until": when(self.google_stream_held_until),
            },
            "microsoft": {
                "owner": self.microsoft.owner,
                "calendar": self.microsoft.calendar,
                "ref": self.microsoft_ref,
                "connection": self.microsoft_connection,
                "via": self.via.value,
                "subscription_expires": when(self.microsoft_subscription_expires),
                "stream_held_until": when(self.microsoft_stream_held_until),
            },
            "direction": self.direction.value,
            "detail": self.detail.value,
            "conflict": self.conflict.value,
            "meeting_links": self.meeting_links,
            "working_locations": self.working_locations,
            "state": self.state.value,
            "state_reason": self.state_reason,
            "last_error": self.last_error,
            "last_sync_at": when(self.last_sync_at),
            "delete_mirrors": self.delete_mirrors,
            "mirror_oof": self.mirror_oof,
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
        }


_G, _M = calendars.alias("g"), calendars.alias("m")


def _query() -> sa.Select[Any]:
    g, m = _G, _M
    gc, mc = connections.alias("gc"), connections.alias("mc")
    leases = subscription_leases
    live = (
        sa.select(
            subscriptions.c.calendar_id,
            sa.func.min(subscriptions.c.expires_at).label("expires"),
            sa.func.max(leases.c.expires_at).label("held"),
        )
        .select_from(subscriptions.outerjoin(leases, leases.c.subscription_id == subscriptions.c.id))
        .where(subscriptions.c.state != "stopped")
        .group_by(subscriptions.c.calendar_id)
        .subquery()
    )
    gs, ms = live.alias("gs"), live.alias("ms")
    return (
        sa.select(
            pairs,
            g.c.owner.label("g_owner"),
            g.c.calendar.label("g_calendar"),
            m.c.owner.label("m_owner"),
            m.c.calendar.label("m_calendar"),
            m.c.provider.label("m_provider"),
            gc.c.name.label("gc_name"),
            mc.c.name.label("mc_name"),
            g.c.connection_id.label("gc_id"),
            m.c.connection_id.label("mc_id"),
            gs.c.expires.label("g_expires"),
            ms.c.expires.label("m_expires"),
            gs.c.held.label("g_held"),
            ms.c.held.label("m_held"),
        )
        .join(g, g.c.id == pairs.c.google_calendar_id)
        .join(m, m.c.id == pairs.c.microsoft_calendar_id)
        .join(gc, gc.c.id == g.c.connection_id)
        .join(mc, mc.c.id == m.c.connection_id)
        .outerjoin(gs, gs.c.calendar_id == g.c.id)
        .outerjoin(ms, ms.c.calendar_id == m.c.id)
    )


def _aware(value: Any) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back a string or a naive datetime.
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _record(row: Any) -> PairRecord:
    return PairRecord(
        id=row.id,
        google=CalendarSpec(row.g_owner, row.g_calendar),
        microsoft=CalendarSpec(row.m_owner, row.m_calendar),
        via=Via(row.m_provider),
        direction=Direction(row.direction),
        detail=Detail(row.detail),
        conflict=ConflictPolicy(row.conflict_policy),
        meeting_links=bool(row.meeting_links),
        working_locations=bool(row.working_locations),
        state=PairState(row.state),
        state_reason=row.state_reason,
        last_error=row.last_error,
        last_sync_at=row.last_sync_at,
        delete_mirrors=bool(row.delete_mirrors),
        mirror_oof=bool(row.mirror_oof),
        created_at=row.created_at,
        updated_at=row.updated_at,
        google_ref=row.google_calendar_id,
        microsoft_ref=row.microsoft_calendar_id,
        google_connection=row.gc_name,
        microsoft_connection=row.mc_name,
        google_connection_id=row.gc_id,
        microsoft_connection_id=row.mc_id,
        google_subscription_expires=_aware(row.g_expires),
        microsoft_subscription_expires=_aware(row.m_expires),
        google_stream_held_until=_aware(row.g_held),
        microsoft_stream_held_until=_aware(row.m_held),
    )


async def fetch_pair(conn: AsyncConnection, pair_id: str) -> PairRecord:
    row = (await conn.execute(_query().where(pairs.c.id == pair_id))).first()
    if row is None:
        raise PairNotFound(f"no pair with id {pair_id!r} (see `calbridge pairs list`)")
    return _record(row)


async def fetch_pairs(
    conn: AsyncConnection,
    *,
    states: list[PairState] | None = None,
    search: str | None = None,
    ids: list[str] | None = None,
    calendar: str | None = None,
) -> list[PairRecord]:
    """Pairs ordered by Google owner; `search` matches either owner address (substring),
    `calendar` a calendar ref on either side (what the processor fans a change out to)."""
    query = _query()
    if ids is not None:
        query = query.where(pairs.c.id.in_(ids))
    if calendar is not None:
        query = query.where(
            (pairs.c.google_calendar_id == calendar) | (pairs.c.microsoft_calendar_id == calendar)
        )
    if states:
        query = query.where(pairs.c.state.in_([s.value for s in states]))
    if search:
        needle = f"%{search.lower()}%"
        query = query.where(sa.or_(_G.c.owner.like(needle), _M.c.owner.like(needle)))
    query = query.order_by(_G.c.owner, _M.c.owner, pairs.c.id)
    return [_record(row) for row in await conn.execute(query)]


ListingKey = tuple[str, str, str]  # (google owner, microsoft owner, pair id): the listing's order


def listing_key(pair: PairRecord) -> ListingKey:
    """Where a pair sits in `pairs list`'s order (what `--after PAIR` continues from)."""
    return (pair.google.owner, pair.microsoft.owner, pair.id)


async def page_pairs(
    conn: AsyncConnection,
    *,
    states: list[PairState] | None = None,
    search: str | None = None,
    after: ListingKey | None = None,
    limit: int | None = None,
    batch: int = 2500,
) -> AsyncIterator[list[PairRecord]]:
    """The pairs of `fetch_pairs`' order in batches, each read by a keyset query (the rows after
    the last one seen), so a listing of any size streams in bounded memory and its first rows
    come at once; `after` continues a listing, `limit` ends it."""
    left = limit
    while left is None or left > 0:
        query = _query()
        if states:
            query = query.where(pairs.c.state.in_([s.value for s in states]))
        if search:
            needle = f"%{search.lower()}%"
            query = query.where(sa.or_(_G.c.owner.like(needle), _M.c.owner.like(needle)))
        if after is not None:
            query = query.where(sa.tuple_(_G.c.owner, _M.c.owner, pairs.c.id) > sa.tuple_(*after))
        size = batch if left is None else min(batch, left)
        query = query.order_by(_G.c.owner, _M.c.owner, pairs.c.id).limit(size)
        found = [_record(row) for row in await conn.execute(query)]
        if not found:
            return
        yield found
        if len(found) < size:
            return
        after = listing_key(found[-1])
        if left is not None:
            left -= len(found)
