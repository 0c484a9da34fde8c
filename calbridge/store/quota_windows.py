"""Provider quota counts in the store, shared by every process that calls the provider.

One row per quota key (`quota_windows`): the current fixed window's start and count and the
previous window's count. A reservation locks the row (`SELECT ... FOR UPDATE` on PostgreSQL; the
embedded SQLite store has one connection, which serialises it), lets the pure
`calbridge.providers.quota.decide` say how many requests it may have, and writes the new count
in the same transaction, so two replicas never both spend the last request of a window.
Processes reserve in batches (`Quota.batch`), so this costs one transaction per batch, not per
request; every thousandth reservation also deletes the rows of keys idle for two days.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.providers.budget import QuotaBook
from calbridge.providers.quota import Quota, QuotaDecision, WindowCount, decide
from calbridge.settings import Settings
from calbridge.store.engine import upsert
from calbridge.store.tables import quota_windows

__all__ = ["MemoryQuotaStore", "SqlQuotaStore", "open_quota_book"]

STALE = 2 * 86_400  # seconds: a count whose window started before this is over, and so is the next


class SqlQuotaStore:
    """Quota counts in the store's `quota_windows` table (PostgreSQL or SQLite)."""

    def __init__(self, engine: AsyncEngine, *, sweep_every: int = 1_000) -> None:
        self._engine = engine
        self._sweep_every = sweep_every
        self._reservations = 0

    async def reserve(self, key: str, quota: Quota, want: int, now: float) -> QuotaDecision:
        self._reservations += 1
        if self._reservations % self._sweep_every == 0:
            await self.sweep(now)
        async with self._engine.begin() as conn:
            count = await _locked(conn, key)
            if count is None:
                await upsert(conn, quota_windows, _row(key, WindowCount(0)), ["key"], update=[])
                count = await _locked(conn, key)
            decision = decide(count, quota, want, now)
            if decision.count != count:
                await conn.execute(
                    quota_windows.update()
                    .where(quota_windows.c.key == key)
                    .values(
                        window_start=decision.count.start,
                        used=decision.count.used,
                        previous=decision.count.previous,
                    )
                )
            return decision

    async def sweep(self, now: float) -> int:
        """Forget the counts of keys idle for two days (longer than any window and the one before
        it): a row per user or mailbox that ever called would otherwise stay for good."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                quota_windows.delete().where(quota_windows.c.window_start < int(now) - STALE)
            )
        return int(result.rowcount or 0)

    async def peek(self, key: str) -> WindowCount | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(quota_windows).where(quota_windows.c.key == key))).first()
        return None if row is None else WindowCount(row.window_start, row.used, row.previous)


async def _locked(conn: AsyncConnection, key: str) -> WindowCount | None:
    query = sa.select(quota_windows).where(quota_windows.c.key == key).with_for_update()
    row = (await conn.execute(query)).first()
    if row is None or row.window_start == 0:
        return None
    return WindowCount(row.window_start, row.used, row.previous)


def _row(key: str, count: WindowCount) -> dict[str, object]:
    return {"key": key, "window_start": count.start, "used": count.used, "previous": count.previous}


class MemoryQuotaStore:
    """Counts in this process only: for a process that is the only one calling (tests, the demo)."""

    def __init__(self) -> None:
        self.counts: dict[str, WindowCount] = {}

    async def reserve(self, key: str, quota: Quota, want: int, now: float) -> QuotaDecision:
        decision = decide(self.counts.get(key), quota, want, now)
        self.counts[key] = decision.count
        return decision


def open_quota_book(engine: AsyncEngine, settings: Settings) -> QuotaBook | None:
    """The process's quota book over the store's shared counts (None when turned off)."""
    return QuotaBook(SqlQuotaStore(engine)) if settings.shared_quotas else None
