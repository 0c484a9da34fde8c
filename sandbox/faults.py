"""Fault injection shared by every emulator: latency, error answers and notification mishaps.

Operations are named `<provider>.<operation>` (e.g. `google.events.insert`, `graph.events.delta`,
`ews.GetItem`); a rule for `<provider>.*` or `*` applies to all that have none of their own.
Every random choice comes from one seeded RNG, so a run is repeatable under its seed.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["ErrorAnswer", "Faults", "NotificationFaults", "OperationFaults"]


LATENCY_TAILS = ("uniform", "lognormal", "pareto")


@dataclass
class OperationFaults:
    """One operation's misbehaviour.

    Latency is uniform in `latency` (seconds) by default. Real services have a long tail: with
    `latency_tail="lognormal"` a delay is drawn with median `latency_scale` and sigma
    `latency_shape`; with `"pareto"` it is at least `latency_scale`, tail index `latency_shape`
    (smaller is heavier). Either way it is capped at `latency_cap` seconds.
    """

    latency: tuple[float, float] = (0.0, 0.0)  # seconds, uniform between the two
    error_rate: float = 0.0  # share of calls answered with `error_status`
    error_status: int = 503
    retry_after: float | None = None  # seconds, sent with 429/503 answers
    reason: str | None = None  # provider error reason to answer with, e.g. "userRateLimitExceeded"
    latency_tail: str = "uniform"
    latency_scale: float = 0.0
    latency_shape: float = 1.0
    latency_cap: float = 30.0

    def __post_init__(self) -> None:
        if self.latency_tail not in LATENCY_TAILS:
            raise ValueError(f"latency_tail must be one of {LATENCY_TAILS}")
        if self.latency_tail != "uniform" and (self.latency_scale <= 0 or self.latency_shape <= 0):
            raise ValueError("a long-tail latency needs latency_scale > 0 and latency_shape > 0")

    def draw_latency(self, rng: random.Random) -> float:
        """Seconds to wait before answering (0 for none)."""
        if self.latency_tail == "lognormal":
            return min(rng.lognormvariate(math.log(self.latency_scale), self.latency_shape), self.latency_cap)
        if self.latency_tail == "pareto":
            return min(self.latency_scale * rng.paretovariate(self.latency_shape), self.latency_cap)
        low, high = self.latency
        return rng.uniform(low, high) if high > 0 else 0.0


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
    # notifications dropped or duplicated so far, as `<provider>.dropped` / `<provider>.duplicated`
    mishaps: Counter[str] = field(default_factory=Counter)

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
        delay = rule.draw_latency(self.rng)
        if delay > 0:
            await asyncio.sleep(delay)
        if rule.error_rate > 0 and self.rng.random() < rule.error_rate:
            return ErrorAnswer(rule.error_status, rule.retry_after, rule.reason)
        return None

    def notification_plan(self, provider: str) -> NotificationFaults:
        return self.notifications.get(provider) or NotificationFaults()

    def notification_copies(self, provider: str) -> int:
        """How many times one notification is sent under the provider's plan: 0 (dropped), 1, or
        2 (duplicated); each mishap counted in `mishaps`."""
        plan = self.notification_plan(provider)
        if plan.drop_rate and self.rng.random() < plan.drop_rate:
            self.mishaps[f"{provider}.dropped"] += 1
            return 0
        if plan.duplicate_rate and self.rng.random() < plan.duplicate_rate:
            self.mishaps[f"{provider}.duplicated"] += 1
            return 2
        return 1

    def reset(self) -> None:
        self.operations.clear()
        self.notifications.clear()
