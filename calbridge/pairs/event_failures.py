"""Events a pair could not copy, kept on the pair instead of stopping its calendar.

One event that cannot be translated or written (a recurrence the other side cannot express, a
400 for that item, a body over the provider's size) must not hold back the rest: the pass goes
on, the cursor moves, and the event is recorded here against its pair, its side and its id, with
the error's class, a readable reason, when it was first and last seen and how often it failed.

A later success for the same event clears its row: when it changes again (the next pass reads
it), on `pairs resync` (a full read plans every event again) and on `pairs retry` (which reads
exactly these events again). `pairs show` lists them, `pairs list` counts them, and the gauge
`calbridge_event_failures` counts them by provider and reason.

These rows hold ids and error classes, never an event's content.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.pairs.policy import Side
from calbridge.store.tables import event_failures

__all__ = [
    "EventFailure",
    "FailedEvent",
    "clear_failures",
    "count_failures",
    "failure_totals",
    "fetch_failures",
    "record_failures",
]

_MAX_REASON = 500
_CHUNK = 500  # ids per IN list


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """What a pass found about one event it could not copy (before it is stored)."""

    event_id: str  # its id on the side the pass read
    provider: str  # the provider that could not take it (the target's)
    error: str  # the error's class name
    reason: str  # one line a person can act on


@dataclass(frozen=True, slots=True)
class EventFailure:
    """One stored event failure of a pair."""

    pair_id: str
    side: Side
    event_id: str
    provider: str
    error: str
    reason: str
    first_seen_at: datetime
    last_seen_at: datetime
    attempts: int

    def as_json(self) -> dict[str, Any]:
        return {
            "side": self.side.value,
            "event_id": self.event_id,
            "provider": self.provider,
            "error": self.error,
            "reason": self.reason,
            "first_seen_at": self.first_seen_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "attempts": self.attempts,
        }


async def record_failures(
    conn: AsyncConnection, pair_id: str, side: Side, failed: Sequence[FailedEvent], now: datetime
) -> None:
    """Store each failure, or count one more attempt of one already stored (its first time kept)."""
    if not failed:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(event_failures)
    statement = insert.on_conflict_do_update(
        index_elements=["pair_id", "side", "event_id"],
        set_={
            "provider": insert.excluded.provider,
            "error": insert.excluded.error,
            "reason": insert.excluded.reason,
            "last_seen_at": insert.excluded.last_seen_at,
            "attempts": event_failures.c.attempts + 1,
        },
    )
    latest = {failure.event_id: failure for failure in failed}  # one row per event and statement
    await conn.execute(
        statement,
        [
            {
                "pair_id": pair_id,
                "side": side.value,
                "event_id": failure.event_id,
                "provider": failure.provider,
                "error": failure.error[:64],
                "reason": " ".join(failure.reason.split())[:_MAX_REASON],
                "first_seen_at": now,
                "last_seen_at": now,
                "attempts": 1,
            }
            for failure in latest.values()
        ],
    )


async def clear_failures(conn: AsyncConnection, pair_id: str, side: Side, event_ids: Iterable[str]) -> int:
    """Forget the failures of these events (they were copied at last); how many there were."""
    ids = list(dict.fromkeys(event_ids))
    cleared = 0
    for start in range(0, len(ids), _CHUNK):
        result = await conn.execute(
            event_failures.delete().where(
                (event_failures.c.pair_id == pair_id)
                & (event_failures.c.side == side.value)
                & event_failures.c.event_id.in_(ids[start : start + _CHUNK])
            )
        )
        cleared += result.rowcount
    return cleared


async def fetch_failures(conn: AsyncConnection, pair_id: str) -> list[EventFailure]:
    """The pair's event failures, the most recently seen first."""
    rows = await conn.execute(
        sa.select(event_failures)
        .where(event_failures.c.pair_id == pair_id)
        .order_by(event_failures.c.last_seen_at.desc(), event_failures.c.event_id)
    )
    return [
        EventFailure(
            pair_id=row.pair_id,
            side=Side(row.side),
            event_id=row.event_id,
            provider=row.provider,
            error=row.error,
            reason=row.reason,
            first_seen_at=row.first_seen_at,
            last_seen_at=row.last_seen_at,
            attempts=row.attempts,
        )
        for row in rows
    ]


async def count_failures(conn: AsyncConnection, pair_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Event failures per pair (pairs without any are absent)."""
    query = sa.select(event_failures.c.pair_id, sa.func.count()).group_by(event_failures.c.pair_id)
    if pair_ids is not None:
        counts: dict[str, int] = {}
        for start in range(0, len(pair_ids), _CHUNK):
            chunk = query.where(event_failures.c.pair_id.in_(pair_ids[start : start + _CHUNK]))
            counts.update({row[0]: int(row[1]) for row in await conn.execute(chunk)})
        return counts
    return {row[0]: int(row[1]) for row in await conn.execute(query)}


async def failure_totals(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """Event failures of every pair by (provider, error class): what the gauge shows."""
    query = sa.select(event_failures.c.provider, event_failures.c.error, sa.func.count()).group_by(
        event_failures.c.provider, event_failures.c.error
    )
    return {(row[0], row[1]): int(row[2]) for row in await conn.execute(query)}
