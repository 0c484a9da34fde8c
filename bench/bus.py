"""Bus throughput: our AmqpBus against a bare aio-pika pipelined publisher, in one run.

Both publish the same change-event bytes with persistent delivery and publisher confirms into the
same topology (consistent-hash exchange -> quorum shard queues) of a throwaway vhost, which is
deleted at the end. Ours: many coroutines each calling `bus.publish([event])`. Bare: one
coroutine with a semaphore of in-flight publishes and gather. Runs alternate, best of each kept.
Then consume throughput: our consumer (decode, dispatch, ack) against a bare aio-pika consumer
(ack per message), both with the same prefetch.

    python bench/bus.py [--messages 5000] [--concurrency 64] [--rounds 2] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import urllib.request
import uuid
from collections.abc import Callable

import aio_pika

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, shard_queue
from calbridge.events import ChangeEvent, ChangeKind, Provider, encode
from calbridge.logs import configure_logging
from calbridge.settings import Settings, load_settings

BROKER = "127.0.0.1"


def management(method: str, path: str, body: object | None = None) -> None:
    request = urllib.request.Request(
        f"http://{BROKER}:15672/api{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    urllib.request.urlopen(request, timeout=10).close()


def sample_events(count: int) -> list[ChangeEvent]:
    # Realistic shape: a Graph event id as resource, a change key as version, 500 calendars.
    return [
        ChangeEvent(
            provider=Provider.GRAPH,
            calendar=f"cal-{n % 500:04d}",
            kind=ChangeKind.UPDATED,
            resource="AAMkAGI2THVSAAA=" + uuid.uuid4().hex * 3,
            version="DwAAABYAAAA" + uuid.uuid4().hex[:20],
        )
        for n in range(count)
    ]


async def publish_ours(bus: AmqpBus, events: list[ChangeEvent], concurrency: int) -> float:
    queue = iter(events)

    async def caller() -> None:
        for event in queue:
            await bus.publish([event])

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return len(events) / (time.perf_counter() - started)


async def publish_bare(url: str, events: list[ChangeEvent], concurrency: int) -> float:
    bodies = [(encode(event), event.calendar, event.id) for event in events]
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(CHANGES, ensure=False)
    gate = asyncio.Semaphore(concurrency)

    async def one(body: bytes, calendar: str, message_id: str) -> None:
        async with gate:
            message = aio_pika.Message(
                body,
                headers={CALENDAR_HEADER: calendar},
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
            )
            await exchange.publish(message, routing_key="")

    started = time.perf_counter()
    await asyncio.gather(*(one(*item) for item in bodies))
    rate = len(bodies) / (time.perf_counter() - started)
    await connection.close()
    return rate


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        await asyncio.sleep(0.005)


async def consume_ours(bus: AmqpBus, expected: int) -> float:
    handled = 0

    async def handle(event: ChangeEvent) -> None:
        nonlocal handled
        handled += 1

    started = time.perf_counter()
    consumer = await bus.consume_changes(handle)
    await until(lambda: handled >= expected, within=120)
    rate = expected / (time.perf_counter() - started)
    await consumer.stop()
    return rate


async def consume_bare(url: str, settings: Settings, expected: int) -> float:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=settings.prefetch)
    handled = 0

    async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal handled
        ChangeEvent.model_validate_json(message.body)  # same decode work as ours
        await message.ack()
        handled += 1

    started = time.perf_counter()
    for index in range(settings.shard_count):
        queue = await channel.get_queue(shard_queue(index), ensure=False)
        await queue.consume(handle)
    await until(lambda: handled >= expected, within=120)
    rate = expected / (time.perf_counter() - started)
    await connection.close()
    return rate


async def run(messages: int, concurrency: int, rounds: int) -> None:
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    management("PUT", f"/vhosts/{vhost}", {})
    management("PUT", f"/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    url = f"amqp://guest:guest@{BROKER}:5672/{vhost}"
    settings = load_settings(amqp_url=url, publish_timeout=10)
    bus = AmqpBus(url, settings)
    try:
        await bus.connect()
        events = sample_events(messages)
        size = len(encode(events[0]))
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(rounds):
            bare.append(await publish_bare(url, events, concurrency))
            ours.append(await publish_ours(bus, events, concurrency))
        print(f"publish with confirms, {messages} msgs x {rounds} rounds, {size} B, {concurrency} in flight")
        print(f"  bare aio-pika (semaphore + gather): {max(bare):8.0f} msg/s  (runs: {_runs(bare)})")
        print(f"  calbridge AmqpBus.publish callers:  {max(ours):8.0f} msg/s  (runs: {_runs(ours)})")
        print(f"  ratio ours/bare: {max(ours) / max(bare):.2f}")

        backlog = messages * rounds * 2  # everything both publishers just sent
        ours_consume = await consume_ours(bus, backlog)
        for _ in range(rounds * 2):
            await publish_bare(url, events, concurrency)
        bare_consume = await consume_bare(url, settings, backlog)
        print(f"consume + decode + ack, prefetch {settings.prefetch}, {settings.shard_count} shards")
        print(f"  bare aio-pika consumer:             {bare_consume:8.0f} msg/s")
        print(f"  calbridge consumer (ordered, acked): {ours_consume:7.0f} msg/s")
    finally:
        await bus.close()
        management("DELETE", f"/vhosts/{vhost}")


def _runs(rates: list[float]) -> str:
    return ", ".join(f"{rate:.0f}" for rate in rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000, help="messages per publish run")
    parser.add_argument("--concurrency", type=int, default=64, help="publishes in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each publisher")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    args = parser.parse_args()
    configure_logging("console", "warning")
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(run(args.messages, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
