"""Prometheus metrics of the EWS streaming listener."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from calbridge.metrics import REGISTRY

__all__ = ["CATCH_UPS", "EVENTS", "HELD", "OPEN_STREAMS", "PUBLISH_FAILURES", "RECONNECTS"]

OPEN_STREAMS = Gauge(
    "calbridge_ews_streams_open", "GetStreamingEvents connections open now.", registry=REGISTRY
)
HELD = Gauge(
    "calbridge_ews_subscriptions_held",
    "EWS streaming subscriptions whose lease this listener holds.",
    registry=REGISTRY,
)
EVENTS = Counter(
    "calbridge_ews_stream_events_total",
    "Item events read from EWS streams, by outcome: published, or skipped (a repeat, or an "
    "unknown subscription).",
    ["outcome"],
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "calbridge_ews_stream_reconnects_total",
    "Streams reopened, by cause: closed (the connection timeout, normal), dropped (connection "
    "lost), subscription_lost (recreated), throttled, error.",
    ["cause"],
    registry=REGISTRY,
)
CATCH_UPS = Counter(
    "calbridge_ews_catch_up_hints_total",
    "RESYNC hints published because a stream may have missed changes, by cause.",
    ["cause"],
    registry=REGISTRY,
)
PUBLISH_FAILURES = Counter(
    "calbridge_ews_stream_publish_failures_total",
    "Batches the broker did not confirm (their calendars get a catch-up hint instead).",
    registry=REGISTRY,
)
