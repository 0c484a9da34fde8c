"""A cap on requests in flight per mailbox (Outlook allows 4 per app and mailbox, and answers
429 "MailboxConcurrency" to the fifth).

One `MailboxLimits` per process and API: every caller touching a mailbox goes through
`hold(mailbox)`. A gate exists only while someone holds or waits for it, so a process that
serves many mailboxes keeps no state for idle ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calbridge.providers.budget import QuotaBook, QuotaGate
    from calbridge.providers.quota import Quota

__all__ = ["AdapterShares", "MailboxLimits"]


@dataclass
class _Gate:
    semaphore: asyncio.Semaphore
    users: int = 0  # holding or waiting
    in_flight: int = field(default=0)


class MailboxLimits:
    def __init__(self, per_mailbox: int = 4) -> None:
        if per_mailbox < 1:
            raise ValueError("per_mailbox must be at least 1")
        self.per_mailbox = per_mailbox
        self._gates: dict[str, _Gate] = {}

    @asynccontextmanager
    async def hold(self, mailbox: str) -> AsyncIterator[None]:
        key = mailbox.lower()
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self.per_mailbox))
        gate.users += 1
        try:
            async with gate.semaphore:
                gate.in_flight += 1
                try:
                    yield
                finally:
                    gate.in_flight -= 1
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[key]

    def in_flight(self, mailbox: str) -> int:
        gate = self._gates.get(mailbox.lower())
        return 0 if gate is None else gate.in_flight


@dataclass(frozen=True, slots=True)
class AdapterShares:
    """What every adapter of one provider in a process shares: the per-mailbox cap and the
    provider's quotas, counted with the other replicas (`calbridge.providers.budget`)."""

    limits: MailboxLimits | None = None
    book: QuotaBook | None = None
    provider: str = ""
    quotas: tuple[Quota, ...] = ()

    def gate(self, owner: str) -> QuotaGate | None:
        """The quota admission of one credential's requests (`owner`: its project or app)."""
        return None if self.book is None else self.book.gate(self.provider, self.quotas, owner)
