"""Google Calendar's request quotas, as Google enforces them (each off unless set).

- Per user per project, over a sliding minute (600 at Google): 403 `userRateLimitExceeded`.
- Per project, over a sliding minute (10,000): 403 `rateLimitExceeded`.
- Per project per day (1,000,000 since 2026, not raisable without the Scaled Tier), the day
  starting at midnight Pacific time: 403 `dailyLimitExceeded`.

All carry the domain `usageLimits`. Windows follow the sandbox clock, so advancing it clears
them. Calls are counted whether or not a limit is set, so the highest rate reached in any window
(`peaks`) can be read from `GET /_control/google/quota` (e.g. to check a client stayed within
the real limits while the sandbox let it through).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["QuotaRefusal", "RequestQuotas", "SlidingCount"]

MINUTE = timedelta(minutes=1)
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass
class SlidingCount:
    """Calls per key over a sliding window, with the most any key reached."""

    window: timedelta
    limit: int | None = None  # None: counted, never refused
    peak: int = 0
    _calls: defaultdict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))

    def full(self, key: str, now: datetime) -> bool:
        calls = self._calls[key]
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if not calls:
            del self._calls[key]  # idle keys cost nothing
            return self.limit is not None and self.limit <= 0
        return self.limit is not None and len(calls) >= self.limit

    def count(self, key: str, now: datetime) -> None:
        calls = self._calls[key]
        calls.append(now)
        self.peak = max(self.peak, len(calls))

    def retry_after(self, key: str, now: datetime) -> float:
        calls = self._calls.get(key)
        return 1.0 if not calls else max(1.0, (calls[0] + self.window - now).total_seconds())

    def reset(self) -> None:
        self.limit, self.peak = None, 0
        self._calls.clear()


@dataclass(frozen=True)
class QuotaRefusal:
    reason: str
    message: str
    retry_after: float


@dataclass
class RequestQuotas:
    user: SlidingCount = field(default_factory=lambda: SlidingCount(MINUTE))
    project: SlidingCount = field(default_factory=lambda: SlidingCount(MINUTE))
    per_day: int | None = None
    days: dict[str, int] = field(default_factory=dict)  # project/day -> calls
    peak_day: int = 0

    def admit(self, project: str, user: str, now: datetime) -> QuotaRefusal | None:
        """Count a call by `user` of `project`; the refusal when a quota is spent (not counted)."""
        day = f"{project}/{now.astimezone(PACIFIC).date().isoformat()}"
        if self.per_day is not None and self.days.get(day, 0) >= self.per_day:
            midnight = (now.astimezone(PACIFIC) + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            return QuotaRefusal(
                "dailyLimitExceeded", "Daily Limit Exceeded", (midnight - now).total_seconds()
            )
        if self.project.full(project, now):
            return QuotaRefusal(
                "rateLimitExceeded", "Rate Limit Exceeded", self.project.retry_after(project, now)
            )
        user_key = f"{project}/{user}"
        if self.user.full(user_key, now):
            return QuotaRefusal(
                "userRateLimitExceeded", "User Rate Limit Exceeded", self.user.retry_after(user_key, now)
            )
        self.project.count(project, now)
        self.user.count(user_key, now)
        if len(self.days) > 4 and day not in self.days:
            self.days = {k: v for k, v in self.days.items() if k.endswith(day[-10:])}
        self.days[day] = self.days.get(day, 0) + 1
        self.peak_day = max(self.peak_day, self.days[day])
        return None

    def view(self) -> dict[str, Any]:
        return {
            "userPerMinute": self.user.limit,
            "projectPerMinute": self.project.limit,
            "projectPerDay": self.per_day,
            "peaks": {
                "userPerMinute": self.user.peak,
                "projectPerMinute": self.project.peak,
                "projectPerDay": self.peak_day,
            },
        }

    def update(self, body: dict[str, Any]) -> None:
        """Set limits from `view`'s keys (null: unlimited); `"peaks": null` forgets the peaks."""
        if "userPerMinute" in body:
            self.user.limit = _limit(body["userPerMinute"])
        if "projectPerMinute" in body:
            self.project.limit = _limit(body["projectPerMinute"])
        if "projectPerDay" in body:
            self.per_day = _limit(body["projectPerDay"])
        if "peaks" in body:
            self.user.peak = self.project.peak = self.peak_day = 0

    def reset(self) -> None:
        self.user.reset()
        self.project.reset()
        self.per_day, self.peak_day = None, 0
        self.days.clear()


def _limit(value: Any) -> int | None:
    return None if value is None else int(value)
