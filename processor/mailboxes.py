"""At most N provider requests at once per mailbox (Graph allows 4 concurrent per mailbox).

Graph throttles a mailbox that receives more than four concurrent requests from one app (the
MailboxConcurrency limit), whatever the tenant's overall budget. Passes of different calendars
run concurrently, and several calendars (and pairs) can share one mailbox, so the cap is kept
per mailbox across the whole process: `MailboxLimits.slot(owner)` hands out one of N slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["MailboxLimits"]


class MailboxLimits:
    def __init__(self, per_mailbox: int) -> None:
        if per_mailbox < 1:
            raise ValueError("per_mailbox must be at least 1")
        self._per_mailbox = per_mailbox
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}  # holders and waiters, so idle mailboxes are forgotten

    @asynccontextmanager
    async def slot(self, mailbox: str) -> AsyncIterator[None]:
        key = mailbox.casefold()
        semaphore = self._slots.setdefault(key, asyncio.Semaphore(self._per_mailbox))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._slots[key]

    def in_use(self, mailbox: str) -> int:
        """Requests holding or waiting for a slot of this mailbox (for tests and metrics)."""
        return self._users.get(mailbox.casefold(), 0)
