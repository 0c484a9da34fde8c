"""Every name the bus uses on the broker, and where a calendar's changes go, in one place.

Both buses share these: RabbitMQ declares them (see `topology`), the memory bus mirrors them so
that dead letters and logs look the same in the demo as in production.
"""

from __future__ import annotations

import zlib

from calbridge.bus.base import DLQ

__all__ = [
    "CALENDAR_HEADER",
    "CHANGES",
    "DLQ",
    "DLX",
    "LIFECYCLE",
    "delay_queue",
    "shard_of",
    "shard_queue",
]

CHANGES = "calbridge.changes"  # consistent-hash exchange; shard queues are named after it
DLX = "calbridge.dlx"  # fanout exchange in front of the dead-letter queue
LIFECYCLE = "calbridge.lifecycle"  # queue of LifecycleEvents for the renewer

# The consistent-hash exchange hashes this header (not the routing key), so a message that comes
# back from a delay queue, whatever its routing key, lands on the same shard as before.
CALENDAR_HEADER = "x-calbridge-calendar"


def shard_queue(index: int) -> str:
    return f"{CHANGES}.{index}"


def delay_queue(target: str, delay: float) -> str:
    """The delay queue holding messages for `target` (CHANGES or LIFECYCLE) for `delay` seconds.

    Named by its delay so that changing `retry_delays` adds queues instead of clashing with the
    arguments of existing ones.
    """
    return f"{target}.delay.{round(delay * 1000)}ms"


def shard_of(calendar: str, shard_count: int) -> int:
    """The memory bus's shard for a calendar ref: stable across runs and processes.

    RabbitMQ's consistent-hash ring numbers shards differently; what both guarantee, and what
    matters, is that one calendar always maps to one shard, hence one consumer, in order.
    """
    return zlib.crc32(calendar.encode()) % shard_count
