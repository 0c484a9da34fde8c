"""Throttling as back-pressure: a throttled call waits as long as the provider asks, and so does
every other call to the same mailbox (or Google user) meanwhile.

Providers throttle per user or mailbox (Google's per-user quota, Outlook's per app and mailbox
limits) and say how long to wait (`Retry-After`, EWS `BackOffMilliseconds`). Sending more while
throttled prolongs it, so one `Pacing` per process keeps, per (provider, mailbox), the time
before which nobody calls it: a call waits for that gate, runs, and on `Throttled` closes the
gate for the wait and tries again. Without a wait named by the provider the wait doubles with
each throttle in a row, with jitter, from the adapter's first step (`throttle_wait`, pure).

The wait is bounded by `patience` per call: a longer one raises `Throttled` with the time left,
and the caller hands the work back to the bus, which waits in a delay queue without counting an
attempt (`calbridge.bus.base.BackOff`). The Google and Graph adapters call `Pacing.call` around
each single HTTP request, so a throttled page of a change feed is asked for again, not the whole
feed. (EWS does not pace in the process yet: its `ErrorServerBusy` takes the bus's step.)

With a `QuotaGate`, every call first takes one request of the provider's quotas shared with the
other replicas (`calbridge.providers.budget`); when a quota is spent it waits for it like for a
throttle, within the same patience, so calbridge slows down before the provider has to say so.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from calbridge.clock import Sleep
from calbridge.errors import Throttled
from calbridge.providers.budget import QuotaGate

__all__ = ["MAX_BACKOFF", "Pacing", "throttle_wait"]

log = structlog.get_logger("calbridge.providers.pacing")

T = TypeVar("T")
MAX_BACKOFF = 300.0  # seconds: the longest step of our own back-off (a provider's wait is not capped)

Key = tuple[str, str]  # provider, mailbox or user (lower case)


def throttle_wait(error: Throttled, streak: int, draw: float) -> float:
    """How long to wait after the `streak`-th throttle in a row (1 for the first); `draw` is a
    uniform random number in [0, 1).

    The provider's own wait is kept exactly. Without one, the wait doubles from the adapter's
    first step per throttle in a row, capped, and is spread over its upper half ("equal
    jitter"), so mailboxes throttled together do not come back together."""
    if error.asked:
        return max(0.0, error.retry_after)
    step = min(MAX_BACKOFF, max(error.retry_after, 0.1) * 2.0 ** max(0, streak - 1))
    return step / 2 + step / 2 * draw


class Pacing:
    """The process's gates, one per throttled mailbox; pass one instance to every adapter."""

    def __init__(
        self,
        patience: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        quota: QuotaGate | None = None,
    ) -> None:
        self.patience = patience
        self.quota = quota
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._open_at: dict[Key, float] = {}  # when the mailbox may be called again
        self._streak: dict[Key, int] = {}  # throttles in a row

    def closed_for(self, provider: str, mailbox: str) -> float:
        """Seconds before this mailbox may be called again (0 when it may now)."""
        return max(0.0, self._open_at.get((provider, mailbox.lower()), 0.0) - self._clock())

    async def call(self, provider: str, mailbox: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` when the mailbox's gate is open; on Throttled close the gate for the wait
        and run it again, until `patience` seconds were spent waiting (then Throttled)."""
        key = (provider, mailbox.lower())
        waited = 0.0
        while True:
            closed = self.closed_for(*key)
            if closed > 0:
                if waited + closed > self.patience:
                    raise Throttled(closed, f"{provider} asked to wait {closed:.0f}s more")
                await self._sleep(closed)
                waited += closed
                continue  # another call may have been throttled meanwhile: look again
            if self.quota is not None:
                wait = await self.quota.admit(mailbox)
                if wait > 0:
                    if waited + wait > self.patience:
                        raise Throttled(wait, f"{provider} quota spent for {wait:.0f}s more")
                    await self._sleep(wait)
                    waited += wait
                    continue
            try:
                result = await call()
            except Throttled as exc:
                self._throttled(key, exc)
                continue
            self._streak.pop(key, None)
            if self._open_at.get(key, 0.0) <= self._clock():  # not closed again by another call
                self._open_at.pop(key, None)
            return result

    def _throttled(self, key: Key, error: Throttled) -> None:
        streak = self._streak.get(key, 0) + 1
        wait = throttle_wait(error, streak, self._rng.random())
        self._streak[key] = streak
        self._open_at[key] = max(self._open_at.get(key, 0.0), self._clock() + wait)
        log.info("provider_throttled", provider=key[0], wait=round(wait, 3), streak=streak, asked=error.asked)
        if len(self._open_at) > 10_000:  # bounded: forget gates that are open again
            now = self._clock()
            for stale in [k for k, at in self._open_at.items() if at <= now]:
                self._open_at.pop(stale, None)
                self._streak.pop(stale, None)
