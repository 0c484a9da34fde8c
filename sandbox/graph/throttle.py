"""Outlook's per-mailbox concurrency limit: a few requests in flight per app and mailbox.

The request over the limit is refused at once with 429 `ApplicationThrottled`
("MailboxConcurrency") and a `Retry-After`, the way Exchange Online answers it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.graph.errors import GraphError

__all__ = ["MailboxGate"]


class MailboxGate:
    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight: Counter[str] = Counter()

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
        try:
            yield
        finally:
            self.in_flight[mailbox_id] -= 1
