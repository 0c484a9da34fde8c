"""The dead-letter workflow behind `calbridge dlq`: collect, list, show, replay, purge.

Messages dead-lettered by the bus sit in the `calbridge.dlq` queue, where they can only be read
by taking them off. So every command first *collects*: each message is written to the store's
`dead_letters` table (keyed by the change event id, so collecting twice is harmless) and only
acknowledged once that commit succeeded. Everything else works on the table: list and show read
it, replay republishes the envelope with its attempt counter reset and reason `replay`, purge
deletes rows. Replaying is always safe, even twice: a change event is a hint, and the processor
re-reads the calendar's current state.

Each entry keeps its history, so its state is true: `waiting` until it is replayed, `replayed`
after, `failed` when a replayed event was dead-lettered again (collected as a new failure: its
last failure is later than the one stored). A new failure adds its attempts to the entry's and
keeps its first failure time and replay count; the same message collected twice (a lost
acknowledgement) changes nothing. The state is recorded as it changes rather than inferred from
timestamps, which come from different machines' clocks.

With the memory bus (the demo) the same functions collect from `MemoryBus.dead_letters`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
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
from calbridge.errors import CalbridgeError, MalformedMessage
from calbridge.events import ChangeEvent, LifecycleEvent, decode_change, decode_lifecycle
from calbridge.store import upsert
from calbridge.store.ids import complete_id, shortest_prefixes
from calbridge.store.tables import dead_letters
from processor.failures import pair_in_reason

__all__ = [
    "DeadLetterFilter",
    "DeadLetterNotFound",
    "DeadLetterRow",
    "DeadLetterState",
    "ReplayReport",
    "collect_amqp",
    "collect_memory",
    "find_dead_letters",
    "merge_failure",
    "purge_dead_letters",
    "record_of",
    "replay_dead_letters",
    "resolve_ids",
    "resolve_pair",
    "short_ids",
]

WHAT = "dead-lettered change event"


class DeadLetterState(StrEnum):
    WAITING = "waiting"  # dead-lettered, never replayed
    REPLAYED = "replayed"  # replayed, and not dead-lettered since
    FAILED = "failed"  # replayed, then dead-lettered again


class DeadLetterNotFound(CalbridgeError):
    """No dead-lettered change event has this id, nor an id starting with it."""


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
    replayed_at: datetime | None = None  # the latest replay
    state: DeadLetterState = DeadLetterState.WAITING
    replays: int = 0

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def as_json(self) -> dict[str, object]:
        """Every field a script needs; the envelope is left to `dlq show`."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "state": self.state.value,
            "queue": self.queue,
            "pair": self.pair_id,
            "calendar": self.calendar_id,
            "error": self.error,
            "attempts": self.attempts,
            "replays": self.replays,
            "first_failed_at": when(self.first_failed_at),
            "last_failed_at": when(self.last_failed_at),
            "replayed_at": when(self.replayed_at),
        }


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which rows a command acts on; fields left None match everything."""

    ids: Sequence[str] | None = None
    pair: str | None = None
    calendar: str | None = None
    error_contains: str | None = None
    since: datetime | None = None  # last failure at or after
    states: Sequence[DeadLetterState] | None = None

    def clause(self) -> sa.ColumnElement[bool]:
        conditions: list[sa.ColumnElement[bool]] = [sa.true()]
        if self.ids:
            conditions.append(dead_letters.c.id.in_(list(self.ids)))
        if self.states:
            conditions.append(dead_letters.c.state.in_([state.value for state in self.states]))
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
        first_failed_at=_time(headers.get(FIRST_FAILURE_HEADER) or _death_time(headers), now),
        last_failed_at=_time(headers.get(LAST_FAILURE_HEADER) or _death_time(headers), now),
    )


def merge_failure(stored: DeadLetterRow | None, failure: DeadLetterRow) -> DeadLetterRow | None:
    """The entry after collecting `failure` (pure); None when it is one already stored."""
    if stored is None:
        return failure
    if failure.last_failed_at <= stored.last_failed_at:
        return None  # the same message again: its acknowledgement was lost
    return dataclasses.replace(
        failure,
        attempts=stored.attempts + failure.attempts,
        first_failed_at=min(stored.first_failed_at, failure.first_failed_at),
        replayed_at=stored.replayed_at,
        replays=stored.replays,
        state=DeadLetterState.FAILED if stored.replays else DeadLetterState.WAITING,
    )


async def store_record(engine: AsyncEngine, row: DeadLetterRow) -> None:
    """Insert the entry, or merge a new failure into the entry of the same id."""
    async with engine.begin() as conn:
        found = (await conn.execute(sa.select(dead_letters).where(dead_letters.c.id == row.id))).mappings()
        stored = found.first()
        merged = merge_failure(None if stored is None else _row(stored), row)
        if merged is not None:
            await upsert(conn, dead_letters, merged.values(), key=("id",))


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
    return [_row(row) for row in rows]


async def resolve_ids(engine: AsyncEngine, texts: Sequence[str]) -> list[str]:
    """The whole ids that `texts` (ids or unambiguous prefixes) name; DeadLetterNotFound for
    one that names none, AmbiguousId for one that names several. Nothing is acted on before
    every id is known."""
    resolved: list[str] = []
    async with engine.connect() as conn:
        for text in texts:
            found = await complete_id(conn, dead_letters.c.id, text.strip(), WHAT)
            if found is None:
                raise DeadLetterNotFound(
                    f"no {WHAT} has the id {text!r} or an id starting with it (see `calbridge dlq list`)"
                )
            resolved.append(found)
    return list(dict.fromkeys(resolved))


async def resolve_pair(engine: AsyncEngine, text: str) -> str:
    """The pair id of the entries that `text` (an id or an unambiguous prefix) names; `text`
    itself when no entry's pair starts with it (it then matches nothing)."""
    async with engine.connect() as conn:
        found = await complete_id(conn, dead_letters.c.pair_id, text.strip(), "pair")
    return text if found is None else found


async def short_ids(engine: AsyncEngine) -> dict[str, str]:
    """Every entry's id as the shortest prefix (8 characters or more) no other entry shares."""
    async with engine.connect() as conn:
        ids = (await conn.execute(sa.select(dead_letters.c.id))).scalars().all()
    return shortest_prefixes(ids)


def _row(values: sa.RowMapping) -> DeadLetterRow:
    fields = dict(values)
    fields["state"] = DeadLetterState(fields["state"])
    return DeadLetterRow(**fields)


async def replay_dead_letters(
    engine: AsyncEngine,
    bus: Bus,
    where: DeadLetterFilter,
    *,
    dry_run: bool = False,
    progress: Callable[[DeadLetterRow], None] | None = None,
) -> ReplayReport:
    """Publish each matching envelope again (attempt 0, reason `replay`) and mark it replayed:
    the mark is committed only once the bus took the message."""
    report = ReplayReport()
    for row in await find_dead_letters(engine, where):
        message = _decode(row.body)
        if message is None:
            report.skipped += 1
        elif not dry_run:
            if isinstance(message, ChangeEvent):
                message = message.model_copy(update={"attempt": 0, "reason": "replay"})
            async with engine.begin() as conn:
                await conn.execute(
                    sa.update(dead_letters)
                    .where(dead_letters.c.id == row.id)
                    .values(
                        replayed_at=datetime.now(UTC),
                        replays=dead_letters.c.replays + 1,
                        state=DeadLetterState.REPLAYED.value,
                    )
                )
                await bus.publish([message])
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
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
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


def _death_time(headers: Mapping[str, object]) -> object:
    """When RabbitMQ dead-lettered it (so collecting the same message twice is recognised)."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return deaths[0].get("time")
    return None


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]
