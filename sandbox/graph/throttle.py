"""Outlook's per-mailbox limits: a few requests in flight per app and mailbox, and 10,000
requests per 10 minutes per app and mailbox.

The request over either limit is refused at once with 429 `ApplicationThrottled` and a
`Retry-After`, the way Exchange Online answers it. Both count whether or not they refuse, so the
most a mailbox reached (`peak`) can be read from `GET /_control/graph/quota`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sandbox.graph.errors import GraphError

__all__ = ["MailboxGate", "MailboxQuota"]


class MailboxGate:
    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight: Counter[str] = Counter()
        self.peak = 0

    @contextmanager
    def hold(self, mailbox_id: str) -> Iterator[None]:
        if self.in_flight[mailbox_id] >= self.limit:
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": str(self.retry_after)},
            )
        self.in_flight[mailbox_id] += 1
        self.peak = max(self.peak, self.in_flight[mailbox_id])
        try:
            yield
        finally:
            self.in_flight[mailbox_id] -= 1


class MailboxQuota:
    """Requests per app and mailbox over a sliding window (None: counted, never refused)."""

    def __init__(self, limit: int | None, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self.peak = 0
        self._calls: dict[str, deque[datetime]] = {}

    def admit(self, mailbox_id: str, now: datetime) -> None:
        calls = self._calls.setdefault(mailbox_id, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if self.limit is not None and len(calls) >= self.limit:
            wait = max(1, int((calls[0] + self.window - now).total_seconds()) + 1)
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxRequests limit.",
                {"Retry-After": str(wait)},
            )
        calls.append(now)
        self.peak = max(self.peak, len(calls))
