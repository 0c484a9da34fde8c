"""A short-lived cache of per-address answers, with single flight.

Keyed on (address, window): a room full of people refreshing the same view costs one provider
call per address per TTL. While a lookup is in flight, identical lookups wait for it instead of
calling the provider again. The clock is injected (monotonic seconds) so tests control time.

Use: `claim()` splits keys into hits, keys someone else is fetching (await their futures), and
keys the caller now owns; the owner must `settle()` every owned key, even on failure, or the
waiters would hang (the orchestrator does so in a `finally`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from calbridge.freebusy.types import AddressError, LookupOutcome

__all__ = ["CacheKey", "Claim", "FreeBusyCache", "ResultCache"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheKey:
    address: str  # normalised (lower case)
    start: datetime  # UTC
    end: datetime  # UTC
    zone: str  # the zone all-day blocks were read in: part of what the answer means


@dataclass(slots=True)
class Claim(Generic[T]):
    hits: dict[CacheKey, T] = field(default_factory=dict)
    waiting: dict[CacheKey, asyncio.Future[T]] = field(default_factory=dict)
    owned: list[CacheKey] = field(default_factory=list)


class ResultCache(Generic[T]):
    """Per-address answers of any kind (free/busy blocks, a meeting list); an `AddressError`
    that is not `cacheable` is handed to waiters but never kept."""

    def __init__(
        self, ttl: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 50_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[CacheKey, tuple[float, T]] = {}
        self._inflight: dict[CacheKey, asyncio.Future[T]] = {}

    def claim(self, keys: Iterable[CacheKey]) -> Claim[T]:
        claim: Claim[T] = Claim()
        now = self.clock()
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                claim.hits[key] = entry[1]
            elif key in self._inflight:
                claim.waiting[key] = self._inflight[key]
            else:
                self._entries.pop(key, None)
                self._inflight[key] = asyncio.get_running_loop().create_future()
                claim.owned.append(key)
        return claim

    def settle(self, key: CacheKey, outcome: T) -> None:
        """Hand the outcome to every waiter and keep it for the TTL unless it is a failure."""
        future = self._inflight.pop(key, None)
        if future is not None and not future.done():
            future.set_result(outcome)
        cacheable = not isinstance(outcome, AddressError) or outcome.cacheable
        if self.ttl > 0 and cacheable:
            self._entries[key] = (self.clock() + self.ttl, outcome)
            self._trim()

    def _trim(self) -> None:
        if len(self._entries) <= self.max_entries:
            return
        now = self.clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) > self.max_entries:  # oldest first: dicts keep insertion order
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)


FreeBusyCache = ResultCache[LookupOutcome]
