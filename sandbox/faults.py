"""Fault injection shared by every emulator: latency, error answers and notification mishaps.

Operations are named `<provider>.<operation>` (e.g. `google.events.insert`, `graph.events.delta`,
`ews.GetItem`); a rule for `<provider>.*` or `*` applies to all that have none of their own.
Every random choice comes from one seeded RNG, so a run is repeatable under its seed.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

__all__ = ["ErrorAnswer", "Faults", "NotificationFaults", "OperationFaults"]


@dataclass
class OperationFaults:
    latency: tuple[float, float] = (0.0, 0.0)  # seconds, uniform between the two
    error_rate: float = 0.0  # share of calls answered with `error_status`
    error_status: int = 503
    retry_after: float | None = None  # seconds, sent with 429/503 answers
    reason: str | None = None  # provider error reason to answer with, e.g. "userRateLimitExceeded"


@dataclass
class NotificationFaults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder: bool = False  # deliver queued notifications in shuffled order
    delay: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    retry_after: float | None
    reason: str | None = None


@dataclass
class Faults:
    seed: int = 0
    operations: dict[str, OperationFaults] = field(default_factory=dict)
    notifications: dict[str, NotificationFaults] = field(default_factory=dict)  # by provider
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def rule(self, operation: str) -> OperationFaults | None:
        provider = operation.split(".", 1)[0]
        return (
            self.operations.get(operation) or self.operations.get(f"{provider}.*") or self.operations.get("*")
        )

    async def before(self, operation: str) -> ErrorAnswer | None:
        """Apply the operation's latency; return the error to answer with, if one is drawn."""
        rule = self.rule(operation)
        if rule is None:
            return None
        low, high = rule.latency
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high))
        if rule.error_rate > 0 and self.rng.random() < rule.error_rate:
            return ErrorAnswer(rule.error_status, rule.retry_after, rule.reason)
        return None

    def notification_plan(self, provider: str) -> NotificationFaults:
        return self.notifications.get(provider) or NotificationFaults()

    def reset(self) -> None:
        self.operations.clear()
        self.notifications.clear()
