"""The dead-letter workflow behind `calbridge dlq`: collect, list, show, replay, purge.

Messages dead-lettered by the bus sit in the `calbridge.dlq` queue, where they can only be read
by taking them off. So every command first *collects*: each message is written to the store's
`dead_letters` table (keyed by the change event id, so collecting twice is harmless) and only
acknowledged once that commit succeeded. Everything else works on the table: list and show read
it, replay republishes the envelope with its attempt counter reset and reason `replay` and marks
`replayed_at`, purge deletes rows. Replaying is always safe, even twice: a change event is a
hint, and the processor re-reads the calendar's current state.

With the memory bus (the demo) the same functions collect from `MemoryBus.dead_letters`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.base import DLQ, Bus
from calbridge.bus.deadletter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    FIRST_FAILURE_HEADER,
    LAST_FAILURE_HEADER,
    QUEUE_HEADER,
)
from calbridge.bus.memory import MemoryBus
from calbridge.bus.names import CALENDAR_HEADER
from calbridge.errors import MalformedMessage
from calbridge.events import ChangeEvent, LifecycleEvent, decode_change, decode_lifecycle
from calbridge.store import upsert
from calbridge.store.tables import dead_letters
from processor.failures import pair_in_reason

__all__ = [
    "DeadLetterFilter",
    "DeadLetterRow",
    "ReplayReport",
    "collect_amqp",
    "collect_memory",
    "find_dead_letters",
    "purge_dead_letters",
    "record_of",
    "replay_dead_letters",
]

_UPDATED_ON_REPEAT = (
    "queue",
    "calendar_id",
    "pair_id",
    "error",
    "attempts",
    "body",
    "last_failed_at",
    "replayed_at",
)


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: str
    queue: str
    calendar_id: str | None
    pair_id: str | None
    error: str
    attempts: int
    body: bytes
    first_failed_at: datetime
    last_failed_at: datetime
    replayed_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which rows a command acts on; fields left None match everything."""

    ids: Sequence[str] | None = None
    pair: str | None = None
    calendar: str | None = None
    error_contains: str | None = None
    since: datetime | None = None  # last failure at or after

    def clause(self) -> sa.ColumnElement[bool]:
        conditions: list[sa.ColumnElement[bool]] = [sa.true()]
        if self.ids:
            conditions.append(dead_letters.c.id.in_(list(self.ids)))
        if self.pair is not None:
            conditions.append(dead_letters.c.pair_id == self.pair)
        if self.calendar is not None:
            conditions.append(dead_letters.c.calendar_id == self.calendar)
        if self.error_contains:
            conditions.append(dead_letters.c.error.contains(self.error_contains, autoescape=True))
        if self.since is not None:
            conditions.append(dead_letters.c.last_failed_at >= self.since)
        return sa.and_(*conditions)


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    skipped: int = 0  # not an envelope that can be published again (malformed)


# --- collecting


def record_of(
    body: bytes, headers: Mapping[str, object], message_id: str | None, now: datetime
) -> DeadLetterRow:
    """The table row for one dead-lettered message (pure)."""
    message = _decode(body)
    error = _text(headers.get(ERROR_HEADER)) or _death_reason(headers) or "unknown"
    attempts = headers.get(ATTEMPTS_HEADER)
    calendar = _text(headers.get(CALENDAR_HEADER)) or (message.calendar if message is not None else None)
    return DeadLetterRow(
        id=(message.id if message is not None else None) or message_id or _digest(body),
        queue=_text(headers.get(QUEUE_HEADER)) or "unknown",
        calendar_id=calendar,
        pair_id=pair_in_reason(error),
        error=error,
        attempts=attempts if isinstance(attempts, int) else 0,
        body=body,
        first_failed_at=_time(headers.get(FIRST_FAILURE_HEADER), now),
        last_failed_at=_time(headers.get(LAST_FAILURE_HEADER), now),
    )


async def store_record(engine: AsyncEngine, row: DeadLetterRow) -> None:
    """Insert, or refresh a row of the same id (a replayed message that failed again)."""
    async with engine.begin() as conn:
        await upsert(conn, dead_letters, row.values(), key=("id",), update=_UPDATED_ON_REPEAT)


async def collect_amqp(url: str, engine: AsyncEngine) -> int:
    """Move every message of calbridge.dlq into the table; ack each after its commit."""
    import aio_pika  # only where RabbitMQ is used

    moved = 0
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, passive=True)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            row = record_of(message.body, dict(message.headers or {}), message.message_id, datetime.now(UTC))
            await store_record(engine, row)
            await message.ack()
            moved += 1
    finally:
        await connection.close()
    return moved


async def collect_memory(bus: MemoryBus, engine: AsyncEngine) -> int:
    moved = 0
    while bus.dead_letters:
        record = bus.dead_letters[0]
        await store_record(engine, record_of(record.body, record.headers, None, datetime.now(UTC)))
        bus.dead_letters.pop(0)
        moved += 1
    return moved


# --- working on the table


async def find_dead_letters(engine: AsyncEngine, where: DeadLetterFilter) -> list[DeadLetterRow]:
    query = (
        sa.select(dead_letters)
        .where(where.clause())
        .order_by(dead_letters.c.last_failed_at, dead_letters.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [DeadLetterRow(**dict(row)) for row in rows]


async def replay_dead_letters(
    engine: AsyncEngine,
    bus: Bus,
    where: DeadLetterFilter,
    *,
    dry_run: bool = False,
    progress: Callable[[DeadLetterRow], None] | None = None,
) -> ReplayReport:
    """Publish each matching envelope again (attempt 0, reason `replay`) and mark it replayed."""
    report = ReplayReport()
    for row in await find_dead_letters(engine, where):
        message = _decode(row.body)
        if message is None:
            report.skipped += 1
        elif not dry_run:
            if isinstance(message, ChangeEvent):
                message = message.model_copy(update={"attempt": 0, "reason": "replay"})
            await bus.publish([message])
            async with engine.begin() as conn:
                await conn.execute(
                    sa.update(dead_letters)
                    .where(dead_letters.c.id == row.id)
                    .values(replayed_at=datetime.now(UTC))
                )
            report.replayed += 1
        else:
            report.replayed += 1
        if progress is not None:
            progress(row)
    return report


async def purge_dead_letters(engine: AsyncEngine, where: DeadLetterFilter) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(sa.delete(dead_letters).where(where.clause()))
    return int(result.rowcount or 0)


# --- reading headers


def _decode(body: bytes) -> ChangeEvent | LifecycleEvent | None:
    for decode in (decode_change, decode_lifecycle):
        try:
            return decode(body)
        except MalformedMessage:
            continue
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value if isinstance(value, str) and value else None


def _time(value: object, default: datetime) -> datetime:
    text = _text(value)
    if text is None:
        return default
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return default
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _death_reason(headers: Mapping[str, object]) -> str | None:
    """RabbitMQ's own dead-lettering (the delivery limit: a consumer kept crashing) leaves x-death."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        reason = _text(deaths[0].get("reason"))
        return f"RabbitMQ dead-lettered it: {reason}" if reason else None
    return None


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]
