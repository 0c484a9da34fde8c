"""Free/busy metrics on calbridge's registry."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from calbridge.metrics import REGISTRY

__all__ = ["CACHE_LOOKUPS", "MEETING_REQUESTS", "PROVIDER_CALLS", "PROVIDER_CALL_SECONDS", "REQUESTS"]

REQUESTS = Counter(
    "calbridge_freebusy_requests_total",
    "Free/busy HTTP requests, by status code.",
    ["status"],
    registry=REGISTRY,
)
PROVIDER_CALLS = Counter(
    "calbridge_freebusy_provider_calls_total",
    "Provider free/busy calls, by provider and outcome (ok, throttled, timeout, denied, failed).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
PROVIDER_CALL_SECONDS = Histogram(
    "calbridge_freebusy_provider_call_seconds",
    "Duration of one provider free/busy call, by provider.",
    ["provider"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "calbridge_freebusy_cache_lookups_total",
    "Per-address cache lookups, by result (hit, wait: joined an identical lookup in flight, miss).",
    ["result"],
    registry=REGISTRY,
)
MEETING_REQUESTS = Counter(
    "calbridge_meetings_requests_total",
    "Meeting-list HTTP requests, by status code.",
    ["status"],
    registry=REGISTRY,
)
