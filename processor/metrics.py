"""What the engine counts: actions by outcome, resolved conflicts, passes stopped by the breaker."""

from __future__ import annotations

from prometheus_client import Counter

from calbridge.metrics import REGISTRY

__all__ = ["SYNC_ACTIONS", "SYNC_CONFLICTS", "SYNC_PAUSES"]

SYNC_ACTIONS = Counter(
    "calbridge_sync_actions_total",
    "Planned actions applied, by outcome (created, updated, deleted, skip_echo, ...).",
    ["outcome"],
    registry=REGISTRY,
)
SYNC_CONFLICTS = Counter(
    "calbridge_sync_conflicts_total",
    "Conflicts resolved by the pair's conflict policy, by winning side.",
    ["winner"],
    registry=REGISTRY,
)
SYNC_PAUSES = Counter(
    "calbridge_sync_pauses_total",
    "Passes stopped by the mass-deletion breaker or an empty full read.",
    registry=REGISTRY,
)
