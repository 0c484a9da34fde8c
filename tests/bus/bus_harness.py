"""Both buses behind one harness, so the behavioural tests run unchanged on RabbitMQ and in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from polling import eventually  # noqa: F401 - re-exported to this area's tests

from calbridge.bus.amqp import AmqpBus
from calbridge.bus.base import Bus
from calbridge.bus.memory import MemoryBus
from calbridge.bus.names import CALENDAR_HEADER, CHANGES, DLQ
from calbridge.settings import Settings, load_settings

SHARDS = 4
DELAYS = (0.05, 0.1, 0.2)


def bus_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "shard_count": SHARDS,
        "retry_delays": DELAYS,
        "drain_timeout": 5.0,
        "publish_timeout": 2.0,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass(frozen=True)
class Letter:
    body: bytes
    headers: dict[str, object]


@dataclass
class Harness:
    """A connected bus plus what a test needs around it: raw injection and the dead-letter queue."""

    bus: Bus
    settings: Settings
    kind: str
    _raw: aio_pika.abc.AbstractConnection | None = None
    _letters: list[Letter] = field(default_factory=list)

    async def inject_raw(self, body: bytes, calendar: str) -> None:
        if isinstance(self.bus, MemoryBus):
            self.bus.publish_raw(body, calendar)
            return
        assert self._raw is not None
        channel = await self._raw.channel()
        exchange = await channel.get_exchange(CHANGES, ensure=False)
        await exchange.publish(aio_pika.Message(body, headers={CALENDAR_HEADER: calendar}), routing_key="")
        await channel.close()

    def dead_letters(self) -> list[Letter]:
        if isinstance(self.bus, MemoryBus):
            return [Letter(record.body, _plain(record.headers)) for record in self.bus.dead_letters]
        return list(self._letters)

    async def watch_dead_letters(self, url: str) -> None:
        self._raw = await aio_pika.connect(url)
        channel = await self._raw.channel()
        queue = await channel.get_queue(DLQ)

        async def keep(message: AbstractIncomingMessage) -> None:
            self._letters.append(Letter(message.body, _plain(dict(message.headers))))
            await message.ack()

        await queue.consume(keep)

    async def close(self) -> None:
        await self.bus.close()
        if self._raw is not None:
            await self._raw.close()


def _plain(headers: dict[str, object]) -> dict[str, object]:
    return {key: value.decode() if isinstance(value, bytes) else value for key, value in headers.items()}


async def open_harness(kind: str, amqp_url: str | None, settings: Settings) -> Harness:
    if kind == "memory":
        harness = Harness(MemoryBus(settings), settings, kind)
        await harness.bus.connect()
        return harness
    assert amqp_url is not None
    harness = Harness(AmqpBus(amqp_url, settings), settings, kind)
    await harness.bus.connect()
    await harness.watch_dead_letters(amqp_url)
    return harness
