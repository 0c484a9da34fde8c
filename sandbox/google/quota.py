"""Per-user request quota over a sliding minute, as Google enforces it (off unless set).

Over the limit, Google answers 403 `userRateLimitExceeded` (domain `usageLimits`); the window
follows the sandbox clock, so advancing the clock clears it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["UserQuota"]

WINDOW = timedelta(minutes=1)


@dataclass
class UserQuota:
    per_minute: int | None = None  # None: unlimited
    _calls: defaultdict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))

    def admit(self, user: str, now: datetime) -> bool:
        """Count a call by `user`; False when it is over the limit (the call is not counted)."""
        if self.per_minute is None:
            return True
        calls = self._calls[user]
        while calls and calls[0] <= now - WINDOW:
            calls.popleft()
        if len(calls) >= self.per_minute:
            return False
        calls.append(now)
        return True

    def reset(self) -> None:
        self.per_minute = None
        self._calls.clear()
