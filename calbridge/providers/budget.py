"""Spending provider quotas that every replica shares, without a round trip per request.

One `QuotaBook` per process holds, per quota key, the requests it reserved from the shared
counts (`QuotaStore`: the store's `quota_windows` rows, or memory for a lone process) and not yet
spent. A request takes one from each of its keys (Google: the user, the project's minute and the
project's day; Outlook: the app and mailbox); a key with none left reserves a batch
(`Quota.batch`) in one transaction. A quota per user or mailbox is counted in the process
instead, against a share of its limit (`Quota.local_share`): a calendar's passes run in the one
replica that consumes its shard, and its mirrors are written from the other side's shard, so two
processes at most spend one mailbox's quota, each against half, and a change costs no
transaction for it. When a key cannot be granted (the book remembers until when,
so a spent quota costs no round trips either), the requests taken from the
others are put back and the caller is told how long to wait: `Pacing` waits that long within
its patience, and past it hands the change back to the bus, so a spent quota slows the sync
down rather than failing it. Requests left of a batch when its window ends are dropped: they
were counted in that window.

`QuotaBook.gate(profile quotas, owner)` binds the keys of one credential (the Google project,
the Entra app) for an adapter. The book keeps the quota gauges (`calbridge_quota_used_ratio`)
and counts waits and reservations; it logs `quota_nearly_spent` once per window and key when a
quota passes its warning level.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter, Gauge

from calbridge.logs import get_logger
from calbridge.metrics import REGISTRY
from calbridge.providers.quota import Quota, QuotaDecision, QuotaKey, WindowCount, decide, window_start

__all__ = ["QUOTA_RESERVATIONS", "QUOTA_USED", "QUOTA_WAITS", "QuotaBook", "QuotaGate", "QuotaStore"]

log = get_logger(__name__)

QUOTA_USED = Gauge(
    "calbridge_quota_used_ratio",
    "Share of a provider quota in use (the highest of its keys this process reserved from in the "
    "current window), by provider and scope (user, project, project-day, mailbox).",
    ["provider", "scope"],
    registry=REGISTRY,
)
QUOTA_WAITS = Counter(
    "calbridge_quota_waits_total",
    "Provider requests that had to wait for quota, by provider and scope.",
    ["provider", "scope"],
    registry=REGISTRY,
)
QUOTA_RESERVATIONS = Counter(
    "calbridge_quota_reservations_total",
    "Batches of quota reserved from the shared counts (one store transaction each).",
    ["provider", "scope"],
    registry=REGISTRY,
)


class QuotaStore(Protocol):
    async def reserve(self, key: str, quota: Quota, want: int, now: float) -> QuotaDecision: ...


@dataclass
class _Held:
    window: int  # the window the requests were counted in
    left: int


@dataclass
class _Level:
    window: int
    ratio: float


class _LocalCounts:
    """Counts of `Quota.local_share` keys in this process (bounded: idle keys are dropped)."""

    def __init__(self) -> None:
        self._counts: dict[str, WindowCount] = {}

    async def reserve(self, key: str, quota: Quota, want: int, now: float) -> QuotaDecision:
        decision = decide(self._counts.get(key), quota, want, now)
        self._counts[key] = decision.count
        if len(self._counts) > 50_000:
            self._counts = {k: c for k, c in self._counts.items() if c.start >= decision.count.start}
        return decision


class QuotaBook:
    """This process's reserved requests per quota key, over the shared counts."""

    def __init__(self, store: QuotaStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._local = _LocalCounts()
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._levels: dict[tuple[str, str], dict[str, _Level]] = {}  # (provider, scope) -> key -> level
        self._warned: dict[str, int] = {}  # key -> window warned about
        self._closed: dict[str, float] = {}  # key -> when the store said room comes back
        self.round_trips = 0

    def gate(self, provider: str, quotas: Sequence[Quota], owner: str) -> QuotaGate | None:
        """The admission of one credential's requests (None when the provider declares no quota)."""
        return QuotaGate(self, provider, tuple(quotas), owner) if quotas else None

    async def take(self, provider: str, keyed: Sequence[tuple[str, Quota]]) -> float:
        """Take one request from each key; 0 when taken, else the seconds to wait (nothing taken)."""
        now = self._clock()
        taken: list[str] = []
        for key, quota in keyed:
            if self._take_held(key, quota, now):
                taken.append(key)
                continue
            closed = self._closed.get(key, 0.0) - now
            if closed > 0:  # known spent: no round trip until room is due
                return self._refuse(provider, quota, taken, closed)
            if quota.local_share:  # this process's share, counted here: no round trip
                decision = await self._local.reserve(key, quota.local_limit, quota.batch, now)
            else:
                decision = await self._store.reserve(key, quota, quota.batch, now)
                self.round_trips += 1
                QUOTA_RESERVATIONS.labels(provider, quota.scope).inc()
            self._observe(provider, key, quota, decision)
            if decision.granted:
                self._closed.pop(key, None)
                self._held[key] = _Held(decision.count.start, decision.granted - 1)
                taken.append(key)
                continue
            self._closed[key] = now + decision.wait
            if len(self._closed) > 10_000:  # bounded: forget keys whose wait is over
                self._closed = {k: at for k, at in self._closed.items() if at > now}
            return self._refuse(provider, quota, taken, decision.wait)
        return 0.0

    def _refuse(self, provider: str, quota: Quota, taken: list[str], wait: float) -> float:
        for back in taken:  # not spent: keep them for the next request
            self._held[back].left += 1
        QUOTA_WAITS.labels(provider, quota.scope).inc()
        return wait

    def _take_held(self, key: str, quota: Quota, now: float) -> bool:
        held = self._held.get(key)
        if held is None or held.left <= 0:
            return False
        if held.window != window_start(quota, now):  # counted in a window that is over
            del self._held[key]
            return False
        held.left -= 1
        return True

    def _observe(self, provider: str, key: str, quota: Quota, decision: QuotaDecision) -> None:
        window = decision.count.start
        levels = self._levels.setdefault((provider, quota.scope), {})
        levels[key] = _Level(window, decision.ratio)
        current = {k: v for k, v in levels.items() if v.window == window}
        if len(current) != len(levels):  # forget keys of past windows: bounded by active keys
            self._levels[(provider, quota.scope)] = levels = current
        QUOTA_USED.labels(provider, quota.scope).set(max(level.ratio for level in levels.values()))
        warn = quota.warn_at < 1 and decision.ratio >= quota.warn_at
        if warn and self._warned.get(key) != window:
            self._warned[key] = window
            if len(self._warned) > 10_000:
                self._warned = {k: w for k, w in self._warned.items() if w == window}
            log.warning(
                "quota_nearly_spent",
                provider=provider,
                scope=quota.scope,
                ratio=round(decision.ratio, 3),
                limit=quota.limit,
                window_seconds=quota.window,
                degrading=quota.reserve,
            )


@dataclass(frozen=True, slots=True)
class QuotaGate:
    """The quota keys of one credential (`owner`: the Google project, the Entra app id)."""

    book: QuotaBook
    provider: str
    quotas: tuple[Quota, ...]
    owner: str

    def keys(self, mailbox: str) -> list[tuple[str, Quota]]:
        prefix = f"{self.provider}/"
        return [
            (
                f"{prefix}{quota.scope}/{self.owner}/{mailbox.lower()}"
                if quota.per is QuotaKey.MAILBOX
                else f"{prefix}{quota.scope}/{self.owner}",
                quota,
            )
            for quota in self.quotas
        ]

    async def admit(self, mailbox: str) -> float:
        """Take one request for `mailbox`: 0 when it may go now, else the seconds to wait."""
        return await self.book.take(self.provider, self.keys(mailbox))
