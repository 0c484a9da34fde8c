"""Declares the broker side of the bus, idempotently; running it twice with the same settings is a no-op.

    publish ──> calbridge.changes (x-consistent-hash on header x-calbridge-calendar)
                  ├─> calbridge.changes.0 .. N-1   quorum, single active consumer, delivery limit
                  │      └─ dead-letters (delivery limit: a consumer crash loop) ─> calbridge.dlx
    retry ───> calbridge.changes.delay.<ms>       quorum, TTL <ms>, dead-letters back to calbridge.changes
    publish ──> calbridge.lifecycle                quorum, delivery limit, dead-letters to calbridge.dlx
    retry ───> calbridge.lifecycle.delay.<ms>     quorum, TTL <ms>, dead-letters back to calbridge.lifecycle
    give up ─> calbridge.dlx (fanout) ─> calbridge.dlq (quorum)

Dead-lettering uses the at-least-once strategy (a message is removed from its queue only once the
target confirmed it), which RabbitMQ allows only with `x-overflow: reject-publish`.

The shard count is fixed once declared: the hash ring maps calendars to the bound queues, so a
different count would reshuffle calendars between shards while old shards still hold messages.
`declare_topology` refuses that with TopologyMismatch; resharding means draining the shards first
(stop receivers, let processors empty the shard queues, delete them, start with the new count).
"""

from __future__ import annotations

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractConnection, ExchangeType
from pamqp.common import FieldTable

from calbridge.bus.names import CALENDAR_HEADER, CHANGES, DLQ, DLX, LIFECYCLE, delay_queue, shard_queue
from calbridge.errors import ConfigurationError
from calbridge.settings import Settings

__all__ = ["TopologyMismatch", "declare_topology"]

# Points each shard gets on the consistent-hash ring; more points spread calendars more evenly.
SHARD_WEIGHT = "20"

_SAFE_DEAD_LETTERING = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


class TopologyMismatch(ConfigurationError):
    """The broker already holds a calbridge topology that differs from these settings."""


def _work_queue_arguments(settings: Settings) -> FieldTable:
    return {
        "x-queue-type": "quorum",
        # No default in RabbitMQ 3.10: without it a message that crashes its consumer loops forever.
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": DLX,
        **_SAFE_DEAD_LETTERING,
    }


def _delay_queue_arguments(delay: float, target: str) -> FieldTable:
    back: FieldTable = (
        {"x-dead-letter-exchange": CHANGES}  # the hash header still routes it to its shard
        if target == CHANGES
        else {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": target}
    )
    return {"x-queue-type": "quorum", "x-message-ttl": round(delay * 1000), **back, **_SAFE_DEAD_LETTERING}


async def declare_topology(url: str, settings: Settings) -> None:
    """Declare exchanges, queues and bindings; raise TopologyMismatch if existing ones differ."""
    connection = await aio_pika.connect(url)
    try:
        await _check_shard_count(connection, settings.shard_count)
        channel = await connection.channel()
        try:
            await _declare(channel, settings)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyMismatch(
                f"the broker has calbridge queues or exchanges declared with other arguments ({exc}); "
                "arguments of existing queues cannot change: delete them once drained, or use a policy"
            ) from None
    finally:
        await connection.close()


async def _declare(channel: aio_pika.abc.AbstractChannel, settings: Settings) -> None:
    dlx = await channel.declare_exchange(DLX, ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(DLQ, durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx, routing_key="")

    changes = await channel.declare_exchange(
        CHANGES, "x-consistent-hash", durable=True, arguments={"hash-header": CALENDAR_HEADER}
    )
    shard_arguments = {**_work_queue_arguments(settings), "x-single-active-consumer": True}
    for index in range(settings.shard_count):
        shard = await channel.declare_queue(shard_queue(index), durable=True, arguments=shard_arguments)
        await shard.bind(changes, routing_key=SHARD_WEIGHT)

    await channel.declare_queue(LIFECYCLE, durable=True, arguments=_work_queue_arguments(settings))

    for delay in sorted(set(settings.retry_delays)):
        for target in (CHANGES, LIFECYCLE):
            await channel.declare_queue(
                delay_queue(target, delay), durable=True, arguments=_delay_queue_arguments(delay, target)
            )


async def _check_shard_count(connection: AbstractConnection, shard_count: int) -> None:
    """Fresh broker, or exactly shards 0..count-1 present; anything else is a mismatch."""
    if not await _queue_exists(connection, shard_queue(0)):
        return
    if await _queue_exists(connection, shard_queue(shard_count - 1)) and not await _queue_exists(
        connection, shard_queue(shard_count)
    ):
        return
    raise TopologyMismatch(
        f"the broker's shard queues ({CHANGES}.<i>) do not match CALBRIDGE_SHARD_COUNT={shard_count}; "
        "changing the shard count would move calendars between shards: drain and delete the shard "
        "queues first, or set the count the broker has"
    )


async def _queue_exists(connection: AbstractConnection, name: str) -> bool:
    # A passive declare of a missing queue closes the channel, so each probe gets its own.
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
    return True
