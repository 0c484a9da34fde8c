"""Client CPU per published message: AmqpBus.publish against bare aio-pika and raw aiormq, in one run.

All paths publish change events (persistent, the calendar header, publisher confirms) into the
same consistent-hash exchange and 8 quorum shard queues of a throwaway vhost, with 64 publishes
in flight, on uvloop (as the receiver runs). They alternate round by round; each line gives the
client's CPU microseconds per message (`time.process_time`), the fairer figure on a shared
machine, and the wall-clock rate.

- **ours**: `AmqpBus.publish([event])` from 64 concurrent callers (it also encodes each event and
  records metrics, as the receiver's requests do).
- **aio-pika**: the receiver bench's ceiling: an `aio_pika.Message` per message,
  `exchange.publish`, pre-encoded bytes.
- **aiormq**: the channel under aio-pika, `basic_publish` with properties built per message
  directly (no `aio_pika.Message`), pre-encoded bytes. **aiormq, wait=False**: the same with
  `wait=False`, so the publish does not wait for its frame to be drained into the socket (the
  writer then skips `drain()` after each frame); the confirm is still awaited.
- **hand-framed**: a lower bound: the three AMQP frames packed with `struct` from a constant
  prefix (no pamqp), queued on the same aiormq channel with its own delivery-tag and confirm
  bookkeeping (no lock, no timeout context, no drain wait; the write queue is bounded, so it is
  awaited). Checked byte for byte against
  aiormq's own framing before the run. Not a supported client path: it shows how much of a
  publish's CPU is framing and how much is the rest (socket, confirm reading, futures).

    python bench/publish_paths.py [--messages 5000] [--rounds 3] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import aio_pika
import aiormq
import uvloop
from aiormq.abc import ChannelFrame
from bench_support import create_vhost, drop_vhost, sample_events
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES
from calbridge.events import encode
from calbridge.logs import configure_logging
from calbridge.settings import load_settings

BROKER = "127.0.0.1"


def short(text: str) -> bytes:
    raw = text.encode()
    return bytes((len(raw),)) + raw


def hand_frames(channel: int, exchange: str, body: bytes, calendar: str, message_id: str) -> bytes:
    """Basic.Publish (mandatory) + content header (content type, headers, persistent, message id) + body."""
    method = struct.pack(">HHH", 60, 40, 0) + short(exchange) + short("") + b"\x01"
    table = short(CALENDAR_HEADER) + b"S" + struct.pack(">I", len(calendar)) + calendar.encode()
    flags = 0x8000 | 0x2000 | 0x1000 | 0x0080  # content type, headers, delivery mode, message id
    header = (
        struct.pack(">HHQH", 60, 0, len(body), flags)
        + short("application/json")
        + struct.pack(">I", len(table))
        + table
        + b"\x02"
        + short(message_id)
    )
    out = b""
    for kind, payload in ((1, method), (2, header), (3, body)):
        out += struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"
    return out


async def in_flight(count: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> None:
    pending = iter(range(count))

    async def caller() -> None:
        for index in pending:
            await one(index)

    await asyncio.gather(*(caller() for _ in range(concurrency)))


async def run(messages: int, rounds: int, concurrency: int) -> None:
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    url = f"amqp://guest:guest@{BROKER}:5672/{vhost}"
    settings = load_settings(amqp_url=url, publish_timeout=10, shard_count=8)
    bus = AmqpBus(url, settings)
    bare = None
    try:
        await bus.connect()
        bare = await aio_pika.connect(url)
        bare_channel = await bare.channel(publisher_confirms=True)
        exchange = await bare_channel.get_exchange(CHANGES, ensure=False)
        raw_connection = await aiormq.connect(url)
        raw = cast(aiormq.Channel, await raw_connection.channel(publisher_confirms=True))

        events = sample_events(messages)
        bodies = [(encode(event), event.calendar, event.id) for event in events]

        async def ours(index: int) -> None:
            await bus.publish([events[index]])

        async def via_aio_pika(index: int) -> None:
            body, calendar, message_id = bodies[index]
            message = aio_pika.Message(
                body,
                headers={CALENDAR_HEADER: calendar},
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
            )
            await exchange.publish(message, routing_key="")

        async def via_aiormq(index: int) -> None:
            body, calendar, message_id = bodies[index]
            properties = aiormq.spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=2,
                headers={CALENDAR_HEADER: calendar},
                message_id=message_id,
            )
            await raw.basic_publish(body, exchange=CHANGES, routing_key="", properties=properties)

        body, calendar, message_id = bodies[0]
        reference = ChannelFrame.marshall(
            raw.number,
            [
                aiormq.spec.Basic.Publish(exchange=CHANGES, routing_key="", mandatory=True),
                ContentHeader(
                    properties=aiormq.spec.Basic.Properties(
                        content_type="application/json",
                        delivery_mode=2,
                        headers={CALENDAR_HEADER: calendar},
                        message_id=message_id,
                    ),
                    body_size=len(body),
                ),
                ContentBody(body),
            ],
        ).payload
        assert hand_frames(raw.number, CHANGES, body, calendar, message_id) == reference

        async def hand_framed(index: int) -> None:
            body, calendar, message_id = bodies[index]
            raw.delivery_tag += 1
            tag = raw.delivery_tag
            confirmation = raw.create_future()
            raw.confirmations[tag] = confirmation
            payload = hand_frames(raw.number, CHANGES, body, calendar, message_id)
            await raw.write_queue.put(ChannelFrame(payload=payload, should_close=False))
            await confirmation

        async def via_aiormq_nowait(index: int) -> None:
            body, calendar, message_id = bodies[index]
            properties = aiormq.spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=2,
                headers={CALENDAR_HEADER: calendar},
                message_id=message_id,
            )
            await raw.basic_publish(
                body, exchange=CHANGES, routing_key="", properties=properties, mandatory=True, wait=False
            )

        paths = {
            "ours": ours,
            "aio-pika": via_aio_pika,
            "aiormq": via_aiormq,
            "aiormq, wait=False": via_aiormq_nowait,
            "hand-framed": hand_framed,
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for one in paths.values():  # warm-up
            await in_flight(500, concurrency, one)
        for _ in range(rounds):
            for name, one in paths.items():
                wall, cpu = time.perf_counter(), time.process_time()
                await in_flight(messages, concurrency, one)
                elapsed = time.perf_counter() - wall
                results[name].append(((time.process_time() - cpu) * 1e6 / messages, messages / elapsed))
        await raw_connection.close()
    finally:
        await bus.close()
        if bare is not None:
            await bare.close()
        drop_vhost(vhost)

    base = statistics.median(cpu for cpu, _ in results["aio-pika"])
    print(f"{messages} messages x {rounds} rounds, {concurrency} in flight, uvloop")
    for name, figures in results.items():
        cpus = [cpu for cpu, _ in figures]
        rates = ", ".join(f"{rate:.0f}" for _, rate in figures)
        print(
            f"  {name:18s} CPU/msg median {statistics.median(cpus):5.0f} us "
            f"(rounds {', '.join(f'{cpu:.0f}' for cpu in cpus)}); "
            f"x{statistics.median(cpus) / base:.2f} of aio-pika; msg/s {rates}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if not 0 < args.messages <= 50_000 or not 0 < args.rounds <= 10 or not 0 < args.concurrency <= 1024:
        parser.error("keep it brief: messages <= 50000, rounds <= 10, concurrency <= 1024")
    configure_logging("console", "warning")
    uvloop.run(run(args.messages, args.rounds, args.concurrency))


if __name__ == "__main__":
    main()
