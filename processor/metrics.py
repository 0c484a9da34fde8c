"""What the processor counts: the engine's actions, conflicts and breaker pauses; the consumer's
hints, changes by outcome, latencies and queue lag; provider calls by status."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from calbridge.metrics import REGISTRY

__all__ = [
    "APPLY_SECONDS",
    "CHANGES",
    "CHANGE_LATENCY",
    "HINTS",
    "NOT_MIRRORED",
    "PAIR_LOCK_WAIT",
    "PROVIDER_CALLS",
    "PROVIDER_CALL_SECONDS",
    "QUEUE_LAG",
    "SYNC_ACTIONS",
    "SYNC_CONFLICTS",
    "SYNC_PAUSES",
]

SYNC_ACTIONS = Counter(
    "calbridge_sync_actions_total",
    "Planned actions applied, by outcome (created, updated, deleted, skip_echo, ...).",
    ["outcome"],
    registry=REGISTRY,
)
NOT_MIRRORED = Counter(
    "calbridge_sync_not_mirrored_total",
    "Events of a kind never mirrored (a Google birthday, fromGmail or working location), by kind.",
    ["kind"],
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

# --- the consumer (processor.consumer) and provider calls (processor.instrumented)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

CHANGES = Counter(
    "calbridge_changes_total",
    "Changes read from a source calendar, by outcome: created, updated, deleted, echo, unchanged, "
    "conflict, skipped (direction, filters, mirrors of other pairs), left_out (an event that could not "
    "be copied, recorded on its pair) and failed (a pass that raised).",
    ["outcome"],
    registry=REGISTRY,
)
HINTS = Counter(
    "calbridge_hints_total",
    "Change events handled, by outcome: synced, coalesced (a later pass covered it), echo (it names "
    "a version the links already record), no_active_pair, paused (the breaker paused a pair), "
    "pair_failed (access refused, a credential refused, a calendar gone or a connection that cannot "
    "be opened: the pair was put in error), backoff (throttled: waits as the provider asked, no "
    "attempt used), retry, dead_letter.",
    ["outcome"],
    registry=REGISTRY,
)
APPLY_SECONDS = Histogram(
    "calbridge_apply_seconds",
    "Duration of one pass over one pair (read the source, plan, write the other side).",
    ["source"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PAIR_LOCK_WAIT = Histogram(
    "calbridge_pair_lock_wait_seconds",
    "How long a pass waited for its pair's lock (the pair's other direction was running).",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
CHANGE_LATENCY = Histogram(
    "calbridge_change_latency_seconds",
    "From the notification's arrival at the receiver (received_at) to its writes applied.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
QUEUE_LAG = Histogram(
    "calbridge_queue_lag_seconds",
    "Age of a change event (since received_at) when its pass starts.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PROVIDER_CALLS = Counter(
    "calbridge_provider_calls_total",
    "Provider API calls made by the processor, by provider, operation and status "
    "(ok, throttled, transient, permanent, access_denied, not_found, cursor_expired, error).",
    ["provider", "operation", "status"],
    registry=REGISTRY,
)
PROVIDER_CALL_SECONDS = Histogram(
    "calbridge_provider_call_seconds",
    "Duration of provider API calls made by the processor (one page for a change feed).",
    ["provider", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
