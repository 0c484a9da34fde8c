"""Provider quotas as data, and the pure decision of how much of one may be spent now.

A provider counts requests per key over a window: Google per user and per Cloud project per
minute and per project per day, Outlook per app and mailbox per ten minutes. Each slice declares
its quotas in its profile (`ProviderProfile.quotas`); nothing here knows a provider.

`decide` takes a key's counts (this window's and the previous one's), the quota, how many
requests a process wants to reserve and the time, and answers how many it gets and, when none,
how long to wait. No I/O, no clock: the shared storage (`calbridge.store.quota_windows`) reads
and writes the counts around it under a row lock, and `calbridge.providers.budget` spends what
was granted.

- **Sliding windows** (Google's per-minute quotas, Outlook's ten minutes) are estimated the usual
  way from two fixed windows: the previous window's count, weighted by how much of it still
  overlaps the sliding one, plus the current one's.
- **A reserve** (Google's 1,000,000 per project per day, which cannot be raised): past `warn_at`
  of the limit, the rest is released evenly over what is left of the window, so a busy day
  slows the sync down instead of stopping it at the cap until the next day.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Quota", "QuotaDecision", "QuotaKey", "WindowCount", "allowance", "decide", "estimate", "roll"]

MIN_WAIT = 0.01  # seconds: never answer "wait 0" without a grant


class QuotaKey(StrEnum):
    """What a quota is counted per."""

    MAILBOX = "mailbox"  # per user or mailbox, within the owner (Google: user per project)
    OWNER = "owner"  # per owner of the credential: the Google Cloud project, the Entra app


@dataclass(frozen=True, slots=True)
class Quota:
    scope: str  # the metrics label and key prefix: user, project, project-day, mailbox
    per: QuotaKey
    limit: int  # requests per window
    window: int  # seconds
    sliding: bool = True  # False: a fixed window (a day that starts at `offset`)
    offset: int = 0  # seconds after the epoch's window boundary the fixed window starts
    warn_at: float = 1.0  # share of the limit past which operators are warned (and, with a
    # reserve, the rest is released evenly over the window)
    reserve: bool = False  # degrade past `warn_at` instead of running into the cap
    # Counted by each process on its own against 1/`local_share` of the limit, not in the store:
    # for a quota per user or mailbox, whose calendar's passes run in one replica (its shard's
    # consumer) and whose mirrors are written by the other side's (see `budget`).
    local_share: int | None = None

    @property
    def local_limit(self) -> Quota:
        """The quota a process counts on its own (`local_share`)."""
        share = self.local_share or 1
        return dataclasses.replace(self, limit=max(1, self.limit // share), local_share=None)

    def but(self, **changes: object) -> Quota:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def batch(self) -> int:
        """Requests a process reserves per round trip to the shared storage: half a percent of
        the limit (3 of Google's 600 per user, 50 of 10,000, 5,000 of a million)."""
        return max(1, self.limit // 200)


@dataclass(frozen=True, slots=True)
class WindowCount:
    start: int  # the current fixed window's start, seconds since the epoch
    used: int = 0  # requests granted in it
    previous: int = 0  # requests granted in the window before it


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    count: WindowCount  # what to store
    granted: int
    wait: float  # seconds before asking again; 0 when something was granted
    ratio: float  # the estimated share of the limit in use after the grant


def window_start(quota: Quota, now: float) -> int:
    return int((now - quota.offset) // quota.window) * quota.window + quota.offset


def roll(count: WindowCount | None, quota: Quota, now: float) -> WindowCount:
    """The counts as of `now`: a new window carries the last one's count as `previous`."""
    start = window_start(quota, now)
    if count is None or count.start < start - quota.window:
        return WindowCount(start)
    if count.start < start:
        return WindowCount(start, 0, count.used)
    return count


def estimate(count: WindowCount, quota: Quota, now: float) -> float:
    """Requests counted against the quota at `now` (a rolled count)."""
    if not quota.sliding:
        return float(count.used)
    overlap = 1.0 - (now - count.start) / quota.window
    return count.previous * max(0.0, overlap) + count.used


def allowance(quota: Quota, now: float, start: int) -> float:
    """How many requests may be counted at `now`: the limit, or with a reserve, the warning
    level plus the reserve's share for the part of the window gone by."""
    if not quota.reserve:
        return float(quota.limit)
    elapsed = min(1.0, max(0.0, (now - start) / quota.window))
    level = quota.warn_at * quota.limit
    return level + (quota.limit - level) * elapsed


def decide(count: WindowCount | None, quota: Quota, want: int, now: float) -> QuotaDecision:
    """Grant up to `want` requests of `quota` at `now`, or say how long to wait for one."""
    current = roll(count, quota, now)
    used = estimate(current, quota, now)
    room = math.floor(allowance(quota, now, current.start) - used + 1e-9)
    granted = max(0, min(want, room))
    if granted:
        after = WindowCount(current.start, current.used + granted, current.previous)
        return QuotaDecision(after, granted, 0.0, (used + granted) / quota.limit)
    return QuotaDecision(current, 0, max(MIN_WAIT, _until_room(current, quota, now)), used / quota.limit)


def _until_room(count: WindowCount, quota: Quota, now: float) -> float:
    """Seconds until one more request fits (an estimate on the safe side)."""
    end = count.start + quota.window
    if quota.reserve:
        level = quota.warn_at * quota.limit
        share = (count.used + 1 - level) / max(1e-9, quota.limit - level)
        at = count.start + share * quota.window
        return (at if at <= end else end) - now
    if not quota.sliding:
        return end - now
    if count.used <= quota.limit - 1 and count.previous > 0:
        # previous * (1 - f) + used <= limit - 1, with f the share of this window gone by
        fraction = 1.0 - (quota.limit - 1 - count.used) / count.previous
        return count.start + fraction * quota.window - now
    # Even with the previous window gone, this one is full: into the next one, while this
    # window's count fades out of the sliding estimate.
    fraction = 1.0 - (quota.limit - 1) / max(1, count.used)
    return end + max(0.0, fraction) * quota.window - now
