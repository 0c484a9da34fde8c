"""Opened providers, one per connection, reused by every pass of the process, and reopened when
the connection is replaced in the store.

Opening a provider builds an SDK client and its token source, which is slow and holds
connections; a pass only needs the one its connection already has. Each opened provider is
wrapped once in `InstrumentedProvider` (call metrics). The Graph adapters themselves keep the
per-mailbox cap (`CALBRIDGE_GRAPH_MAILBOX_CONCURRENCY`), one for the whole process.

Credentials change under a running process: `calbridge connections add ... --replace` after a
client secret is rotated. With `versions` (the store's fingerprint of each connection), a lease
that finds the last check older than `recheck` seconds compares the fingerprints of every open
connection (one small query, nothing decrypted); a connection whose row changed, or is gone, is
*retired*: new leases open it afresh, and the old provider is closed once the passes that hold
it have finished (never under a running pass). `replaced(ids)` makes the same check at once,
for a pass that just failed: if its connection was replaced meanwhile, the failure was the old
credentials' and the hint is worth retrying with the new ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from calbridge.logs import get_logger
from calbridge.providers.base import CalendarProvider
from calbridge.providers.closing import close_provider
from processor.instrumented import InstrumentedProvider

__all__ = ["ConnectionVersions", "OpenProvider", "ProviderCache"]

log = get_logger("calbridge.processor")

OpenProvider = Callable[[str], Awaitable[CalendarProvider]]  # connection id -> provider


class ConnectionVersions(Protocol):
    """The stored version of each connection (absent: it was removed)."""

    async def versions(self, connection_ids: Collection[str]) -> Mapping[str, str]: ...


@dataclass(eq=False)
class _Opened:
    provider: InstrumentedProvider
    version: str | None  # as stored when it was opened; None: not tracked
    users: int = 0  # passes holding it now
    retired: bool = False  # replaced: close it when the last user lets go


class ProviderCache:
    def __init__(
        self,
        open_provider: OpenProvider,
        *,
        versions: ConnectionVersions | None = None,
        recheck: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_provider
        self._versions = versions
        self._recheck = recheck
        self._clock = clock
        self._opened: dict[str, _Opened] = {}
        self._retired: list[_Opened] = []
        self._opening: dict[str, asyncio.Lock] = {}
        self._checking = asyncio.Lock()
        self._checked_at: float | None = None

    @asynccontextmanager
    async def lease(self, connection_id: str) -> AsyncIterator[CalendarProvider]:
        """The connection's provider, held for the duration of the block (a pass)."""
        opened = await self._acquire(connection_id)
        try:
            yield opened.provider
        finally:
            opened.users -= 1
            if opened.retired and opened.users == 0:
                await self._close(opened)

    async def replaced(self, connection_ids: Collection[str]) -> bool:
        """Check these connections in the store now; True when one of them was replaced (or
        removed) since it was opened here. Its provider is retired either way."""
        if self._versions is None:
            return False
        async with self._checking:
            try:
                return bool(await self._check([c for c in connection_ids if c in self._opened], every=False))
            except Exception as exc:  # the store is away: the failure stands as it was
                log.warning("connection_check_failed", error=type(exc).__name__)
                return False

    async def close(self) -> None:
        for opened in [*self._opened.values(), *self._retired]:
            await close_provider(opened.provider.inner)
        self._opened.clear()
        self._retired.clear()

    # -- inside ----------------------------------------------------------------------------------

    async def _acquire(self, connection_id: str) -> _Opened:
        await self._maybe_check()
        opened = self._opened.get(connection_id)
        if opened is None:
            lock = self._opening.setdefault(connection_id, asyncio.Lock())
            async with lock:  # concurrent passes of one connection open it once
                opened = self._opened.get(connection_id)
                if opened is None:
                    opened = await self._open_tracked(connection_id)
                    self._opened[connection_id] = opened
        opened.users += 1
        return opened

    async def _open_tracked(self, connection_id: str) -> _Opened:
        # The version is read before opening: a replacement in between is seen at the next check
        # (one more reopen), never missed.
        version = None
        if self._versions is not None:
            version = (await self._versions.versions([connection_id])).get(connection_id)
            if self._checked_at is None:  # the first one opened: the interval starts now
                self._checked_at = self._clock()
        return _Opened(InstrumentedProvider(await self._open(connection_id)), version)

    async def _maybe_check(self) -> None:
        if self._versions is None or not self._opened:
            return
        now = self._clock()
        if self._checked_at is None or now - self._checked_at < self._recheck:
            return
        async with self._checking:
            if self._checked_at is None or self._clock() - self._checked_at < self._recheck:
                return  # another lease checked while this one waited
            await self._check(list(self._opened), every=True)

    async def _check(self, connection_ids: Collection[str], *, every: bool) -> list[str]:
        """Retire the providers of connections whose stored version changed; their ids.
        `every`: these are all the open ones (the periodic check is then done)."""
        assert self._versions is not None
        if every:
            self._checked_at = self._clock()
        if not connection_ids:
            return []
        stored = await self._versions.versions(connection_ids)
        changed = [
            cid
            for cid in connection_ids
            if cid in self._opened and stored.get(cid) != self._opened[cid].version
        ]
        for connection_id in changed:
            opened = self._opened.pop(connection_id)
            opened.retired = True
            log.info("connection_reopening", connection=connection_id, passes_holding_old=opened.users)
            if opened.users == 0:
                await self._close(opened)
            else:
                self._retired.append(opened)
        return changed

    async def _close(self, opened: _Opened) -> None:
        if opened in self._retired:
            self._retired.remove(opened)
        try:
            await close_provider(opened.provider.inner)
        except Exception as exc:  # a failing close must not fail the pass that let go of it
            log.warning("provider_close_failed", error=type(exc).__name__)
