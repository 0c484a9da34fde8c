"""Bus throughput: our AmqpBus against a bare aio-pika pipelined publisher, in one run.

Both publish the same change-event bytes with persistent delivery and publisher confirms into the
same topology (consistent-hash exchange -> quorum shard queues) of a throwaway vhost, which is
deleted at the end. Ours: many coroutines each calling `bus.publish([event])`. Bare: one
coroutine with a semaphore of in-flight publishes and gather. The two alternate round by round.
Then consume throughput: our consumer (decode, per-calendar dispatch, ack) against a bare
aio-pika consumer (decode, ack), both with the same prefetch.

Each figure is wall-clock msg/s and the client's CPU time per message. The aio-pika client is
CPU-bound, so on a shared machine CPU per message compares the two more fairly than msg/s.

    python bench/bus.py [--messages 5000] [--concurrency 64] [--rounds 3] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from bench_support import create_vhost, drop_vhost, sample_events

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, shard_queue
from calbridge.events import ChangeEvent, encode
from calbridge.logs import configure_logging
from calbridge.settings import Settings, load_settings

BROKER = "127.0.0.1"


@dataclass(frozen=True)
class Measure:
    rate: float  # messages per second, wall clock
    cpu_us: float  # client CPU microseconds per message


async def measure(count: int, work: Callable[[], Awaitable[None]]) -> Measure:
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    return Measure(count / (time.perf_counter() - wall), (time.process_time() - cpu) * 1e6 / count)


async def publish_ours(bus: AmqpBus, events: list[ChangeEvent], concurrency: int) -> None:
    pending = iter(events)

    async def caller() -> None:
        for event in pending:
            await bus.publish([event])

    await asyncio.gather(*(caller() for _ in range(concurrency)))


async def publish_bare(exchange: AbstractExchange, events: list[ChangeEvent], concurrency: int) -> None:
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

    # Pre-encoded: the bare publisher does not even pay for serialisation.
    bodies = [(encode(event), event.calendar, event.id) for event in events]
    await asyncio.gather(*(one(*item) for item in bodies))


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        await asyncio.sleep(0.005)


async def consume_ours(bus: AmqpBus, expected: int) -> None:
    handled = 0

    async def handle(event: ChangeEvent) -> None:
        nonlocal handled
        handled += 1

    consumer = await bus.consume_changes(handle)
    await until(lambda: handled >= expected, within=300)
    await consumer.stop()


async def consume_bare(
    connection: aio_pika.abc.AbstractConnection, settings: Settings, expected: int
) -> None:
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=settings.prefetch)
    handled = 0

    async def handle(message: AbstractIncomingMessage) -> None:
        nonlocal handled
        ChangeEvent.model_validate_json(message.body)  # the same decoding work as ours
        await message.ack()
        handled += 1

    for index in range(settings.shard_count):
        queue = await channel.get_queue(shard_queue(index), ensure=False)
        await queue.consume(handle)
    await until(lambda: handled >= expected, within=300)
    await channel.close()


def line(name: str, runs: list[Measure]) -> str:
    rates = ", ".join(f"{run.rate:.0f}" for run in runs)
    cpu = statistics.median(run.cpu_us for run in runs)
    return (
        f"  {name:<34} best {max(run.rate for run in runs):6.0f} msg/s (runs {rates}); {cpu:4.0f} us CPU/msg"
    )


def ratio_line(ours: list[Measure], bare: list[Measure]) -> str:
    rates = statistics.median(mine.rate / theirs.rate for mine, theirs in zip(ours, bare, strict=True))
    cpu = statistics.median(r.cpu_us for r in bare) / statistics.median(r.cpu_us for r in ours)
    return f"  ours/bare: msg/s {rates:.2f} (median of paired rounds), CPU per msg {cpu:.2f}"


async def run(messages: int, concurrency: int, rounds: int) -> None:
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    url = f"amqp://guest:guest@{BROKER}:5672/{vhost}"
    settings = load_settings(amqp_url=url, publish_timeout=10)
    bus = AmqpBus(url, settings)
    bare_connection = None
    try:
        await bus.connect()
        bare_connection = await aio_pika.connect(url)
        exchange = await (await bare_connection.channel(publisher_confirms=True)).get_exchange(
            CHANGES, ensure=False
        )
        events = sample_events(messages)
        ours: list[Measure] = []
        bare: list[Measure] = []
        for _ in range(rounds):
            bare.append(await measure(messages, lambda: publish_bare(exchange, events, concurrency)))
            ours.append(await measure(messages, lambda: publish_ours(bus, events, concurrency)))
        size = len(encode(events[0]))
        print(f"publish with confirms: {messages} msgs x {rounds}, {size} B, {concurrency} in flight")
        print(line("bare aio-pika (semaphore + gather)", bare))
        print(line("calbridge AmqpBus.publish", ours))
        print(ratio_line(ours, bare))

        await consume_ours(bus, messages * rounds * 2)  # empty the queues, untimed
        ours_in: list[Measure] = []
        bare_in: list[Measure] = []
        for _ in range(rounds):
            await publish_bare(exchange, events, concurrency)
            ours_in.append(await measure(messages, lambda: consume_ours(bus, messages)))
            await publish_bare(exchange, events, concurrency)
            bare_in.append(await measure(messages, lambda: consume_bare(bare_connection, settings, messages)))
        shards = settings.shard_count
        prefetch = settings.prefetch
        print(f"consume + decode + ack: {messages} msgs x {rounds}, prefetch {prefetch}, {shards} shards")
        print(line("bare aio-pika consumer", bare_in))
        print(line("calbridge consumer (ordered)", ours_in))
        print(ratio_line(ours_in, bare_in))
    finally:
        await bus.close()
        if bare_connection is not None:
            await bare_connection.close()
        drop_vhost(vhost)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000, help="messages per publish run")
    parser.add_argument("--concurrency", type=int, default=64, help="publishes in flight")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each publisher")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    args = parser.parse_args()
    configure_logging("console", "warning")
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(run(args.messages, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
