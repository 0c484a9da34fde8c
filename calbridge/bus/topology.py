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
`declare_on` refuses that with TopologyMismatch; resharding means draining the shards first
(stop receivers, let processors empty the shard queues, delete them, start with the new count).

Every service declares on every (re)connection, so on a fresh vhost they all declare at once.
Checking the shard count and declaring are one step under a lock: an exclusive queue
(`calbridge.topology.lock`), which the broker lets one connection hold at a time and deletes
with the connection should its holder die. Without it, a process that looked while another was
half-way through declaring the shard queues saw "some shards" and took it for another count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, ExchangeType
from pamqp.common import FieldTable

from calbridge.bus.names import CALENDAR_HEADER, CHANGES, DLQ, DLX, LIFECYCLE, delay_queue, shard_queue
from calbridge.errors import BusUnavailable, ConfigurationError
from calbridge.settings import Settings

__all__ = ["TOPOLOGY_LOCK", "TopologyMismatch", "declare_on", "declare_topology"]

TOPOLOGY_LOCK = "calbridge.topology.lock"
# How long a declaration waits for another process's; each takes well under a second.
LOCK_PATIENCE = 30.0
# The most shard queues a count can have (Settings.shard_count's bound), for telling what is there.
_MOST_SHARDS = 256

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
    """Declare exchanges, queues and bindings on a connection of its own (see `declare_on`)."""
    connection = await aio_pika.connect(url)
    try:
        await declare_on(connection, settings)
    finally:
        await connection.close()


async def declare_on(connection: AbstractConnection, settings: Settings) -> None:
    """Declare exchanges, queues and bindings; raise TopologyMismatch if existing ones differ.

    Idempotent, and safe when many processes run it at once (see the module docstring).
    """
    async with _topology_lock(connection):
        found = await _count_shards(connection)
        if found not in (0, settings.shard_count) and await _exchange_exists(connection, CHANGES):
            raise TopologyMismatch(_shard_count_mismatch(found, settings.shard_count))
        channel = await connection.channel()
        try:
            await _declare(channel, settings)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyMismatch(
                f"the broker has calbridge queues or exchanges declared with other arguments ({exc}); "
                "arguments of existing queues cannot change: delete them once drained, or use a policy"
            ) from None
        finally:
            if not channel.is_closed:
                await channel.close()


async def _declare(channel: AbstractChannel, settings: Settings) -> None:
    dlx = await channel.declare_exchange(DLX, ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(DLQ, durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx, routing_key="")

    # The shard queues before their exchange: the exchange existing means a declaration got past
    # them, so fewer shard queues without it are an interrupted declaration, not another count.
    shard_arguments = {**_work_queue_arguments(settings), "x-single-active-consumer": True}
    shards = [
        await channel.declare_queue(shard_queue(index), durable=True, arguments=shard_arguments)
        for index in range(settings.shard_count)
    ]
    changes = await channel.declare_exchange(
        CHANGES, "x-consistent-hash", durable=True, arguments={"hash-header": CALENDAR_HEADER}
    )
    for shard in shards:
        await shard.bind(changes, routing_key=SHARD_WEIGHT)

    await channel.declare_queue(LIFECYCLE, durable=True, arguments=_work_queue_arguments(settings))

    for delay in sorted(set(settings.retry_delays)):
        for target in (CHANGES, LIFECYCLE):
            await channel.declare_queue(
                delay_queue(target, delay), durable=True, arguments=_delay_queue_arguments(delay, target)
            )


@contextlib.asynccontextmanager
async def _topology_lock(connection: AbstractConnection) -> AsyncIterator[None]:
    """Hold calbridge.topology.lock: an exclusive queue, refused (RESOURCE_LOCKED) to every other
    connection while this one has it. Waits up to LOCK_PATIENCE for another holder."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_PATIENCE
    pause = 0.02
    while True:
        channel = await connection.channel()
        try:
            await channel.declare_queue(TOPOLOGY_LOCK, exclusive=True, auto_delete=True)
            break
        except aiormq.exceptions.ChannelLockedResource:  # the broker closed this channel
            if loop.time() + pause > deadline:
                raise BusUnavailable(
                    f"another process held {TOPOLOGY_LOCK} for over {LOCK_PATIENCE:g}s while declaring"
                ) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
    try:
        yield
    finally:
        if not channel.is_closed:
            with contextlib.suppress(aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError):
                await channel.queue_delete(TOPOLOGY_LOCK)
                await channel.close()


async def _count_shards(connection: AbstractConnection) -> int:
    """How many shard queues the broker has, counting from calbridge.changes.0 up to the first
    missing one: 0 on a fresh vhost (one passive declare per queue, on one channel)."""
    channel = await connection.channel()
    try:
        for index in range(_MOST_SHARDS + 1):
            try:
                await channel.declare_queue(shard_queue(index), passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:  # closes the channel: the count is known
                return index
        return _MOST_SHARDS + 1
    finally:
        if not channel.is_closed:
            await channel.close()


async def _exchange_exists(connection: AbstractConnection, name: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_exchange(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
    return True


def _shard_count_mismatch(found: int, wanted: int) -> str:
    if found > _MOST_SHARDS:
        there, advice = f"more than {_MOST_SHARDS}", ""
    else:
        there, advice = str(found), f"set CALBRIDGE_SHARD_COUNT={found} on every service, or "
    return (
        f"the broker has {there} shard queues ({CHANGES}.<i>) but CALBRIDGE_SHARD_COUNT={wanted}: {advice}"
        "reshard (stop the receivers, let the processors empty the shard queues, delete them, then start "
        "with the new count)"
    )
