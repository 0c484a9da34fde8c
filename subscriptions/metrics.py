"""The renewer's metrics, on calbridge's one registry.

`calbridge_subscription_expiry_seconds{provider}` is what alerts watch: seconds until the
earliest expiry among the provider's live subscriptions (negative: one has lapsed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge

from calbridge.metrics import REGISTRY
from calbridge.providers.registry import PROFILES
from subscriptions.schedule import RowState, SubscriptionRow

__all__ = [
    "EXPIRY",
    "KEYS",
    "RENEWALS",
    "RESYNCS",
    "SUBSCRIPTIONS",
    "UNUSABLE_CONNECTIONS",
    "observe_rows",
]

SUBSCRIPTIONS = Gauge(
    "calbridge_subscriptions",
    "Subscription rows by provider and state.",
    ["provider", "state"],
    registry=REGISTRY,
)
EXPIRY = Gauge(
    "calbridge_subscription_expiry_seconds",
    "Seconds until the earliest expiry among the provider's live subscriptions.",
    ["provider"],
    registry=REGISTRY,
)
KEYS = Gauge(
    "calbridge_subscriptions_by_key",
    "Live subscriptions by the signing key of their token (key rotation: wait for the old one to reach 0).",
    ["key_id"],
    registry=REGISTRY,
)
UNUSABLE_CONNECTIONS = Gauge(
    "calbridge_connections_unusable",
    "Stored connections the renewer cannot open (secret not decryptable, settings invalid); "
    "their pairs are in error until the connection is re-entered.",
    registry=REGISTRY,
)
RENEWALS = Counter(
    "calbridge_renewals",
    "Subscription actions by provider and outcome (created, renewed, recreated, stopped, failed).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
RESYNCS = Counter(
    "calbridge_resyncs",
    "RESYNC hints published by cause (schedule, subscribed, lapsed, removed, gone, resigned, missed).",
    ["cause"],
    registry=REGISTRY,
)

# The providers whose subscriptions the renewer keeps: their series exist even at zero.
_WATCHED = tuple(profile.provider for profile in PROFILES if profile.kept_by_renewer)


def observe_rows(rows: Iterable[SubscriptionRow], now: datetime) -> None:
    """Set the gauges from a snapshot of every row."""
    counts = {(p.value, s.value): 0 for p in _WATCHED for s in RowState}
    earliest: dict[str, float] = {}
    by_key: dict[str, int] = {}
    for row in rows:
        key = (row.provider.value, row.state.value)
        counts[key] = counts.get(key, 0) + 1
        if row.provider_id is None or row.expires_at is None or row.state == RowState.STOPPING:
            continue
        if row.key_id is not None:
            by_key[row.key_id] = by_key.get(row.key_id, 0) + 1
        left = (row.expires_at - now).total_seconds()
        earliest[row.provider.value] = min(left, earliest.get(row.provider.value, left))
    KEYS.clear()  # a retired key disappears rather than staying at its last count
    for key_id, count in by_key.items():
        KEYS.labels(key_id=key_id).set(count)
    for (provider, state), count in counts.items():
        SUBSCRIPTIONS.labels(provider=provider, state=state).set(count)
    for provider in {p for p, _ in counts}:
        if provider in earliest:
            EXPIRY.labels(provider=provider).set(earliest[provider])
        else:  # nothing live: no series, rather than a stale earliest expiry
            with contextlib.suppress(KeyError):
                EXPIRY.remove(provider)
