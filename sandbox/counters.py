"""What the sandbox saw: calls by endpoint and status, and the invitations a real provider would
have mailed (so tests can assert that calbridge never mails anyone)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Counters", "Invitation"]


@dataclass(frozen=True)
class Invitation:
    provider: str  # google | graph | ews
    calendar: str  # owner address / calendar id the write was made in
    event_id: str
    recipients: int
    reason: str  # e.g. "sendUpdates=all", "meeting created with attendees", "SendToAllAndSaveCopy"


@dataclass
class Counters:
    calls: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status) -> count
    invitations: list[Invitation] = field(default_factory=list)
    send_updates: Counter[str] = field(default_factory=Counter)  # Google sendUpdates value -> writes

    def call(self, operation: str, status: int) -> None:
        self.calls[(operation, status)] += 1

    def calls_to(self, operation_prefix: str) -> int:
        return sum(n for (op, _), n in self.calls.items() if op.startswith(operation_prefix))

    def as_dict(self) -> dict[str, object]:
        return {
            "calls": [
                {"operation": op, "status": st, "count": n} for (op, st), n in sorted(self.calls.items())
            ],
            "invitations": [vars(inv) for inv in self.invitations],
            "send_updates": dict(self.send_updates),
        }

    def reset(self) -> None:
        self.calls.clear()
        self.invitations.clear()
        self.send_updates.clear()
