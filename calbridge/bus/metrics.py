"""The bus's Prometheus metrics, on the shared registry, and the one place consumed outcomes are counted."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from calbridge.bus.handling import Done, Retry, Verdict
from calbridge.logs import get_logger
from calbridge.metrics import REGISTRY

__all__ = [
    "DEAD_LETTERED",
    "MESSAGES",
    "PUBLISHES_IN_FLIGHT",
    "PUBLISH_SECONDS",
    "record_outcome",
]

PUBLISH_SECONDS = Histogram(
    "calbridge_bus_publish_seconds",
    "Time from publishing messages to the broker's confirm of all of them.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
PUBLISHES_IN_FLIGHT = Gauge(
    "calbridge_bus_publishes_in_flight",
    "Messages published and not yet confirmed by the broker.",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "calbridge_bus_messages_total",
    "Messages consumed, by outcome: ack (handled), retry (sent to a delay queue), dead_letter.",
    ["outcome"],
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "calbridge_bus_dead_lettered_total",
    "Messages this process sent to the dead-letter queue, by cause: malformed, rejected, exhausted, "
    "throttled (still throttled after CALBRIDGE_THROTTLE_LIMIT).",
    ["cause"],
    registry=REGISTRY,
)


log = get_logger(__name__)


def record_outcome(verdict: Verdict, queue: str, message_id: str | None) -> None:
    """Count a settled message and log the unusual outcomes (ids and counts only, no content)."""
    if isinstance(verdict, Done):
        MESSAGES.labels("ack").inc()
    elif isinstance(verdict, Retry):
        MESSAGES.labels("retry").inc()
        log.info("message_retry", queue=queue, message_id=message_id, delay=verdict.delay)
    else:
        MESSAGES.labels("dead_letter").inc()
        DEAD_LETTERED.labels(verdict.cause.value).inc()
        log.warning("message_dead_lettered", queue=queue, message_id=message_id, cause=verdict.cause.value)
