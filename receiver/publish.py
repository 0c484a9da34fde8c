"""Publish one request's messages and wait for the broker's confirms, within a deadline.

The receiver answers 2xx only after this returns. Every failure (the bus refusing, an error of
the bus itself, or the deadline passing) becomes BusUnavailable, which the receiver answers with
503 so the provider retries: nothing is acknowledged that the broker has not confirmed.
Concurrent requests each await their own publish; the bus pipelines the confirms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog

from calbridge.bus.base import Bus
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent
from receiver.metrics import PUBLISHES_IN_FLIGHT, publish_seconds

__all__ = ["publish_confirmed"]


async def publish_confirmed(
    bus: Bus, messages: Sequence[ChangeEvent | LifecycleEvent], deadline: float
) -> None:
    """Return once every message is confirmed; `deadline` is in the running loop's time."""
    if not messages:
        return
    outcome = "confirmed"
    started = time.perf_counter()
    PUBLISHES_IN_FLIGHT.inc()
    try:
        async with asyncio.timeout_at(deadline):
            await bus.publish(messages)
    except TimeoutError:
        outcome = "timeout"
        raise BusUnavailable("the broker did not confirm within the acknowledgement budget") from None
    except BusUnavailable:
        outcome = "unavailable"
        raise
    except Exception as exc:  # a bus bug must still end in a retryable 503, never a lost 2xx
        outcome = "unavailable"
        structlog.get_logger("calbridge.receiver").error("publish_failed", error_type=type(exc).__name__)
        raise BusUnavailable("the bus failed while publishing") from None
    finally:
        PUBLISHES_IN_FLIGHT.dec()
        publish_seconds(outcome).observe(time.perf_counter() - started)
