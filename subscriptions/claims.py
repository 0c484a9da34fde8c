"""Claims: which renewer acts on which row, so that replicas never act on the same row twice.

On PostgreSQL a claim is `SELECT ... FOR UPDATE SKIP LOCKED` over the due rows, then a short
lease (`lease_until`) written in the same transaction. A second renewer selecting at the same
moment skips the locked rows; one selecting after the commit no longer sees them as due (the
lease is re-checked on the new row version). The provider call happens after the commit, so no
transaction stays open across a network call; a renewer that dies mid-call leaves a lease that
expires and the row is picked up again.

Creating a calendar's first row takes a lock on the calendar row the same way, re-checks that
no subscription row exists, and inserts a placeholder: two replicas never subscribe a
calendar twice.

SQLite has no row locks: there, run a single renewer (documented in docs/renewer.md). The
statements still run (without the locking clauses) and are correct for one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.events import Provider
from calbridge.store.tables import calendars, subscriptions
from subscriptions.rows import NewSubscription, insert_subscription, new_id, row_from
from subscriptions.schedule import RowState, SubscriptionRow

__all__ = ["claim_due", "claim_one", "insert_placeholders"]


def _locking(conn: AsyncConnection, stmt: sa.Select[tuple[object, ...]]) -> sa.Select[tuple[object, ...]]:
    if conn.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def _due(now: datetime) -> sa.ColumnElement[bool]:
    free = sa.or_(subscriptions.c.lease_until.is_(None), subscriptions.c.lease_until <= now)
    due = sa.or_(subscriptions.c.renew_at <= now, subscriptions.c.resync_at <= now)
    return sa.and_(free, due)


async def _lease(conn: AsyncConnection, ids: Sequence[str], until: datetime) -> None:
    if ids:
        await conn.execute(
            sa.update(subscriptions).where(subscriptions.c.id.in_(list(ids))).values(lease_until=until)
        )


async def claim_due(
    engine: AsyncEngine, now: datetime, lease: timedelta, limit: int
) -> list[SubscriptionRow]:
    """Claim up to `limit` due rows, earliest first; the rows as they were before the claim."""
    async with engine.begin() as conn:
        stmt = sa.select(subscriptions).where(_due(now)).order_by(subscriptions.c.renew_at).limit(limit)
        found = (await conn.execute(_locking(conn, stmt))).mappings().all()
        rows = [row_from(r) for r in found]
        await _lease(conn, [r.id for r in rows], now + lease)
    return rows


async def claim_one(
    engine: AsyncEngine, row_id: str, now: datetime, lease: timedelta
) -> SubscriptionRow | None:
    """Claim one row whatever its schedule (a lifecycle event); None if another renewer holds it."""
    async with engine.begin() as conn:
        free = sa.or_(subscriptions.c.lease_until.is_(None), subscriptions.c.lease_until <= now)
        stmt = sa.select(subscriptions).where(subscriptions.c.id == row_id, free)
        found = (await conn.execute(_locking(conn, stmt))).mappings().first()
        if found is None:
            return None
        await _lease(conn, [row_id], now + lease)
    return row_from(found)


async def insert_placeholders(
    engine: AsyncEngine, calendar_ids: Sequence[str], providers: dict[str, Provider], now: datetime
) -> list[str]:
    """A `pending` row, due now, for each calendar that still has no subscription row; the
    calendars this renewer inserted for (another replica may have been first)."""
    inserted: list[str] = []
    for calendar_id in calendar_ids:
        async with engine.begin() as conn:
            lock = _locking(conn, sa.select(calendars.c.id).where(calendars.c.id == calendar_id))
            if (await conn.execute(lock)).first() is None:
                continue  # gone, or another renewer holds it right now
            existing = await conn.execute(
                sa.select(subscriptions.c.id).where(
                    subscriptions.c.calendar_id == calendar_id,
                    subscriptions.c.state != RowState.STOPPING.value,
                )
            )
            if existing.first() is not None:
                continue
            placeholder = NewSubscription(
                id=new_id(),
                calendar_id=calendar_id,
                provider=providers[calendar_id],
                provider_id=None,
                expires_at=None,
                renew_at=now,
                resync_at=None,
                key_id=None,
                token_expires_at=None,
                state=RowState.PENDING,
            )
            await insert_subscription(conn, placeholder, now)
            inserted.append(calendar_id)
    return inserted
