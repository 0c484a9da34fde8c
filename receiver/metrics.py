"""The receiver's Prometheus metrics, registered once on calbridge's registry.

The hot path takes labelled children through the cached accessors at the end: `labels()` costs
more than the increment it leads to (label validation, a lock, a dict lookup), and every label
value here comes from a small fixed set (providers, outcomes, routes, status codes).
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

from calbridge.metrics import REGISTRY

__all__ = [
    "AUTH_FAILURES",
    "NOTIFICATIONS",
    "PUBLISHES_IN_FLIGHT",
    "PUBLISH_SECONDS",
    "REQUEST_SECONDS",
    "RESPONSES",
    "notifications",
    "publish_seconds",
    "request_seconds",
    "responses",
]

NOTIFICATIONS = Counter(
    "calbridge_notifications_total",
    "Notifications received, by provider and outcome (accepted, sync, validation, forged, expired, "
    "malformed, oversized, ignored, unavailable). A Graph batch counts each item.",
    ["provider", "outcome"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "calbridge_receiver_auth_failures_total",
    "Notifications whose token or clientState was refused, by provider and reason.",
    ["provider", "reason"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "calbridge_receiver_request_seconds",
    "Time from request start to response start, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.9, 5.0),
    registry=REGISTRY,
)
RESPONSES = Counter(
    "calbridge_receiver_responses_total",
    "Responses sent, by route and HTTP status.",
    ["route", "status"],
    registry=REGISTRY,
)
PUBLISH_SECONDS = Histogram(
    "calbridge_receiver_publish_seconds",
    "Time from publish to broker confirm of one request's events, by outcome "
    "(confirmed, unavailable, timeout).",
    ["outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
    registry=REGISTRY,
)
PUBLISHES_IN_FLIGHT = Gauge(
    "calbridge_receiver_publishes_in_flight",
    "Requests waiting for the broker to confirm their events.",
    registry=REGISTRY,
)


@functools.cache
def notifications(provider: str, outcome: str) -> Counter:
    return NOTIFICATIONS.labels(provider, outcome)


@functools.cache
def publish_seconds(outcome: str) -> Histogram:
    return PUBLISH_SECONDS.labels(outcome)


@functools.cache
def request_seconds(route: str) -> Histogram:
    return REQUEST_SECONDS.labels(route)


@functools.cache
def responses(route: str, status: int) -> Counter:
    return RESPONSES.labels(route, str(status))
