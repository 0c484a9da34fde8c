"""Leases on EWS streaming subscriptions: at most one listener streams a subscription at a time.

A lease is a row of `subscription_leases` (holder, expires_at). Claiming is a compare-and-set
(`UPDATE ... WHERE holder IS NULL OR expires_at < now OR holder = me`), which is safe on both
engines: SQLite serialises writers, and PostgreSQL re-checks the WHERE clause of an UPDATE that
waited on a concurrent one. On PostgreSQL the candidates are first picked with
`FOR UPDATE SKIP LOCKED`, so replicas claiming at once split the free rows instead of queueing
on the same ones. A holder renews its leases well before they expire and clears them on stop;
a holder that dies simply lets them expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.store.tables import subscription_leases as leases

__all__ = ["claim_leases", "ensure_leases", "release_leases", "renew_leases"]

_CHUNK = 500  # stay far below any engine's parameter limit


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]


async def ensure_leases(conn: AsyncConnection, subscription_ids: Sequence[str]) -> None:
    """A free lease row for each subscription that has none."""
    if not subscription_ids:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(leases).on_conflict_do_nothing(index_elements=["subscription_id"])
    await conn.execute(insert, [{"subscription_id": i, "claims": 0} for i in subscription_ids])


def _free(holder: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(leases.c.holder.is_(None), leases.c.expires_at < now, leases.c.holder == holder)


async def claim_leases(
    engine: AsyncEngine,
    holder: str,
    subscription_ids: Sequence[str],
    *,
    now: datetime,
    ttl: float,
    limit: int,
) -> list[str]:
    """Take up to `limit` of these leases that are free, expired or already ours; the ids won."""
    won: list[str] = []
    until = now + timedelta(seconds=ttl)
    async with engine.begin() as conn:
        for chunk in _chunks(list(subscription_ids)):
            if len(won) >= limit:
                break
            pick = (
                sa.select(leases.c.subscription_id)
                .where(leases.c.subscription_id.in_(chunk) & _free(holder, now))
                .order_by(leases.c.subscription_id)
                .limit(limit - len(won))
            )
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            candidates = list((await conn.execute(pick)).scalars())
            if not candidates:
                continue
            result = await conn.execute(
                leases.update()
                .where(leases.c.subscription_id.in_(candidates) & _free(holder, now))
                .values(
                    holder=holder,
                    expires_at=until,
                    claims=sa.case((leases.c.holder == holder, leases.c.claims), else_=leases.c.claims + 1),
                )
                .returning(leases.c.subscription_id)
            )
            won.extend(result.scalars())
    return won


async def renew_leases(
    engine: AsyncEngine, holder: str, subscription_ids: Sequence[str], *, now: datetime, ttl: float
) -> list[str]:
    """Extend the leases this holder still has; the ids not returned were lost to another."""
    kept: list[str] = []
    async with engine.begin() as conn:
        for chunk in _chunks(list(subscription_ids)):
            result = await conn.execute(
                leases.update()
                .where(leases.c.subscription_id.in_(chunk) & (leases.c.holder == holder))
                .values(expires_at=now + timedelta(seconds=ttl))
                .returning(leases.c.subscription_id)
            )
            kept.extend(result.scalars())
    return kept


async def release_leases(
    engine: AsyncEngine, holder: str, subscription_ids: Sequence[str] | None = None
) -> None:
    """Give up these leases (all of the holder's when None), so another listener takes them at once."""
    async with engine.begin() as conn:
        mine = leases.c.holder == holder
        if subscription_ids is None:
            await conn.execute(leases.update().where(mine).values(holder=None, expires_at=None))
            return
        for chunk in _chunks(list(subscription_ids)):
            await conn.execute(
                leases.update()
                .where(mine & leases.c.subscription_id.in_(chunk))
                .values(holder=None, expires_at=None)
            )
