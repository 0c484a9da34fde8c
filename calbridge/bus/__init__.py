"""The message bus: RabbitMQ in deployments, in memory for the single-process demo.

`open_bus(settings)` picks one from the settings; both follow the `Bus` Protocol in `base`.
"""

from __future__ import annotations

from calbridge.bus.base import (
    DLQ,
    BackOff,
    Bus,
    ChangeHandler,
    Consumer,
    LifecycleHandler,
    Reject,
    RetryLater,
)
from calbridge.bus.memory import MemoryBus
from calbridge.settings import Settings

__all__ = [
    "DLQ",
    "BackOff",
    "Bus",
    "ChangeHandler",
    "Consumer",
    "LifecycleHandler",
    "MemoryBus",
    "Reject",
    "RetryLater",
    "open_bus",
]


def open_bus(settings: Settings) -> Bus:
    """The RabbitMQ bus when `amqp_url` is set, else the memory bus; call `connect()` next."""
    if settings.amqp_url is None:
        return MemoryBus(settings)
    from calbridge.bus.amqp import AmqpBus  # aio-pika only where RabbitMQ is used

    return AmqpBus(settings.amqp_url.get_secret_value(), settings)
