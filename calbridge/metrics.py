"""The one Prometheus registry every calbridge metric registers on.

Each service declares its own metrics in its own module against REGISTRY; names follow
`calbridge_<thing>_<unit>` with `_total` for counters and `_seconds` for durations.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "render"]

REGISTRY = CollectorRegistry(auto_describe=True)


def render() -> bytes:
    return generate_latest(REGISTRY)
