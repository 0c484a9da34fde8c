"""Which pairs a change event concerns, read from the store; and pausing a pair.

A change event names one calendar ref. Every pair whose Google or Microsoft calendar is that
ref is a candidate; only *active* pairs are ever touched (pending, paused, error and removing
pairs are left alone and the hint is acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store.tables import calendars, pairs
from processor.policy import ConflictPolicy, Detail, Direction, Policy
from subscriptions.states import Action, PairState
from subscriptions.transitions import transition

__all__ = ["ACTIVE", "PAUSED", "CalendarRecord", "PairDirectory", "PairRecord"]

ACTIVE = PairState.ACTIVE.value
PAUSED = PairState.PAUSED.value


@dataclass(frozen=True, slots=True)
class CalendarRecord:
    ref: str
    connection_id: str
    provider: str
    owner: str
    calendar: str


@dataclass(frozen=True, slots=True)
class PairRecord:
    id: str
    state: str
    policy: Policy
    google: CalendarRecord
    microsoft: CalendarRecord

    @property
    def active(self) -> bool:
        return self.state == ACTIVE


class PairDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def pairs_of(self, calendar_ref: str) -> list[PairRecord]:
        """Every pair (in any state) with `calendar_ref` on either side, by pair id."""
        google = calendars.alias("g")
        microsoft = calendars.alias("m")
        query = (
            sa.select(
                pairs.c.id,
                pairs.c.state,
                pairs.c.direction,
                pairs.c.detail,
                pairs.c.conflict_policy,
                *(column.label(f"g_{column.name}") for column in google.c),
                *(column.label(f"m_{column.name}") for column in microsoft.c),
            )
            .join(google, google.c.id == pairs.c.google_calendar_id)
            .join(microsoft, microsoft.c.id == pairs.c.microsoft_calendar_id)
            .where(
                sa.or_(
                    pairs.c.google_calendar_id == calendar_ref, pairs.c.microsoft_calendar_id == calendar_ref
                )
            )
            .order_by(pairs.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            PairRecord(
                id=row["id"],
                state=row["state"],
                policy=Policy(
                    row["id"],
                    Direction(row["direction"]),
                    Detail(row["detail"]),
                    ConflictPolicy(row["conflict_policy"]),
                ),
                google=_calendar(row, "g"),
                microsoft=_calendar(row, "m"),
            )
            for row in rows
        ]

    async def pause(self, pair_id: str, reason: str) -> None:
        """Set an active pair to paused with the reason (`calbridge pairs resume` undoes it)."""
        await transition(self._engine, pair_id, Action.PAUSE, reason=reason, error=reason)

    async def record_sync(self, pair_id: str) -> None:
        """A pass of the pair completed now."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(pairs).where(pairs.c.id == pair_id).values(last_sync_at=datetime.now(UTC))
            )


def _calendar(row: sa.RowMapping, prefix: str) -> CalendarRecord:
    return CalendarRecord(
        ref=row[f"{prefix}_id"],
        connection_id=row[f"{prefix}_connection_id"],
        provider=row[f"{prefix}_provider"],
        owner=row[f"{prefix}_owner"],
        calendar=row[f"{prefix}_calendar"],
    )
