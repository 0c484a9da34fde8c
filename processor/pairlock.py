"""One pass at a time per pair, across every processor replica.

A pair's two calendars are routed by calendar ref, so they may sit on different shards, and the
Google->Microsoft and Microsoft->Google passes of one pair could run at once (on two replicas, or
on two shards of one replica). Then one pass may plan from what it read before the other wrote
and overwrite the newer edit: a lost update. Holding the pair's lock for the whole pass (feed
read, planning, writes, links, cursor) serializes them, so every decision is made on state read
under the lock.

- `LocalPairLocks`: an asyncio lock per pair; enough for SQLite (one process by design).
- `PostgresPairLocks`: the local lock first (passes of one process never overlap, and wait
  without holding a connection), then a transaction-scoped advisory lock keyed on the pair id on
  a connection of its own pool; committing releases it, and so does the server if the
  connection dies, so a crashed replica never leaves a pair locked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["LocalPairLocks", "PairLocks", "PostgresPairLocks", "pair_locks_for"]

_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext(:pair))")


class PairLocks(Protocol):
    def hold(self, pair_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while one pass of the pair runs; waits while another pass of it runs."""
        ...

    async def close(self) -> None: ...


class LocalPairLocks:
    """Passes of one pair never overlap inside this process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, pair_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(pair_id, asyncio.Lock())
        self._users[pair_id] = self._users.get(pair_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[pair_id] -= 1
            if not self._users[pair_id]:  # forget idle pairs: the map stays as small as the work
                del self._users[pair_id]
                del self._locks[pair_id]

    async def close(self) -> None:
        return None


class PostgresPairLocks:
    """Passes of one pair never overlap across the replicas sharing this PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, *, pool_size: int = 5) -> None:
        # A pool of its own: a pass holding its lock connection never waits for the store's pool
        # while other passes hold all of it, and the other way round.
        self._engine = create_async_engine(
            engine.url, pool_pre_ping=True, pool_size=pool_size, max_overflow=20
        )
        self._local = LocalPairLocks()

    @contextlib.asynccontextmanager
    async def hold(self, pair_id: str) -> AsyncIterator[None]:
        async with self._local.hold(pair_id), self._engine.begin() as conn:
            await conn.execute(_LOCK, {"pair": pair_id})
            yield  # the transaction's end releases the advisory lock

    async def close(self) -> None:
        await self._engine.dispose()


def pair_locks_for(engine: AsyncEngine) -> PairLocks:
    """The pair locks that fit the store: advisory locks on PostgreSQL, in-process otherwise."""
    if engine.dialect.name == "postgresql":
        return PostgresPairLocks(engine)
    return LocalPairLocks()
