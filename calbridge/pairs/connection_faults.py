"""A connection that cannot be opened puts its pairs, and only them, in `error`; they come back
by themselves once it can be opened again.

A connection is *unusable* when its secret does not decrypt with CALBRIDGE_SECRET_KEY or its
stored settings no longer validate (`calbridge.store.connection_records.read_connections` says
which, with the remedy). Nothing can be synced for a pair over such a connection, so the pair
moves `active --fail--> error` with that reason (what `calbridge pairs list/show` print), and
everything else goes on. When the connection can be opened again (re-entered with `calbridge
connections add ... --replace`, or the key put back), the pairs that are in `error` for that
reason alone move `error --activate--> active`; the caller then requests their catch-up.

`plan_connection_faults` decides (pure); `apply_connection_faults` writes the decision with
updates guarded by the state and reason that were read, so a pair someone paused, removed or
failed for another reason in between is left as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.pairs.states import PairAction, PairState, next_state
from calbridge.store.connection_records import is_unusable_reason
from calbridge.store.tables import calendars, pairs

__all__ = [
    "FaultPlan",
    "PairConnections",
    "apply_connection_faults",
    "fail_pair",
    "plan_connection_faults",
    "read_pair_connections",
]

_FAILED = next_state(PairState.ACTIVE, PairAction.FAIL)
_RECOVERED = next_state(PairState.ERROR, PairAction.ACTIVATE)


@dataclass(frozen=True, slots=True)
class PairConnections:
    """A pair as this decision needs it: its state and the connections of its two calendars."""

    id: str
    state: PairState
    state_reason: str | None
    google_connection_id: str
    microsoft_connection_id: str

    @property
    def connection_ids(self) -> tuple[str, str]:
        return (self.google_connection_id, self.microsoft_connection_id)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    fail: dict[str, str]  # pair id -> the reason to store (it names the connection and the remedy)
    recover: tuple[str, ...]  # pair ids whose connections can all be opened again


def plan_connection_faults(
    found: Sequence[PairConnections], unusable: Mapping[str, str], usable: Collection[str]
) -> FaultPlan:
    """Which pairs to fail and which to bring back.

    `unusable`: connection id -> the reason it cannot be opened; `usable`: the ids that opened.
    An active pair over an unusable connection fails with that connection's reason (the Google
    side's first when both are unusable, so the choice is stable from one pass to the next); a
    pair already in error for a connection fault gets the current reason if it changed. A pair in
    error for a connection fault whose connections all open again is recovered. Paused, pending,
    removing pairs and pairs in error for any other reason are never touched.
    """
    fail: dict[str, str] = {}
    recover: list[str] = []
    for pair in found:
        reasons = [unusable[c] for c in pair.connection_ids if c in unusable]
        fault = pair.state is PairState.ERROR and is_unusable_reason(pair.state_reason)
        if reasons:
            if pair.state is PairState.ACTIVE or (fault and pair.state_reason != reasons[0]):
                fail[pair.id] = reasons[0]
        elif fault and all(c in usable for c in pair.connection_ids):
            recover.append(pair.id)
    return FaultPlan(fail, tuple(sorted(recover)))


async def read_pair_connections(conn: AsyncConnection, unusable: Collection[str]) -> list[PairConnections]:
    """The pairs a decision may concern: active pairs over an `unusable` connection, and pairs in
    error for a connection fault (nothing at all, in the common case)."""
    g, m = calendars.alias("g"), calendars.alias("m")
    on_unusable = g.c.connection_id.in_(sorted(unusable)) | m.c.connection_id.in_(sorted(unusable))
    query = (
        sa.select(pairs.c.id, pairs.c.state, pairs.c.state_reason, g.c.connection_id, m.c.connection_id)
        .join(g, g.c.id == pairs.c.google_calendar_id)
        .join(m, m.c.id == pairs.c.microsoft_calendar_id)
        .where(
            ((pairs.c.state == PairState.ACTIVE.value) & on_unusable)
            | ((pairs.c.state == PairState.ERROR.value) & pairs.c.state_reason.like("connection %"))
        )
        .order_by(pairs.c.id)
    )
    return [
        PairConnections(row[0], PairState(row[1]), row[2], row[3], row[4])
        for row in await conn.execute(query)
    ]


async def fail_pair(conn: AsyncConnection, pair_id: str, reason: str, *, was: str | None = None) -> bool:
    """`active --fail--> error(reason)`; with `was`, a pair already in error for the connection
    fault `was` takes the new reason. False when the pair had moved on meanwhile."""
    guard = pairs.c.state == PairState.ACTIVE.value
    if was is not None:
        guard = guard | ((pairs.c.state == PairState.ERROR.value) & (pairs.c.state_reason == was))
    result = await conn.execute(
        pairs.update()
        .where((pairs.c.id == pair_id) & guard)
        .values(state=_FAILED.value, state_reason=reason, last_error=reason)
    )
    return result.rowcount == 1


async def _recover(conn: AsyncConnection, pair_id: str, was: str | None) -> bool:
    result = await conn.execute(
        pairs.update()
        .where(
            (pairs.c.id == pair_id) & (pairs.c.state == PairState.ERROR.value) & (pairs.c.state_reason == was)
        )
        .values(state=_RECOVERED.value, state_reason=None, last_error=None)
    )
    return result.rowcount == 1


async def apply_connection_faults(
    conn: AsyncConnection, found: Sequence[PairConnections], plan: FaultPlan
) -> tuple[list[str], list[str]]:
    """Write the plan; (pair ids failed, pair ids recovered) as they really moved."""
    by_id = {pair.id: pair for pair in found}
    failed = [
        pair_id
        for pair_id, reason in sorted(plan.fail.items())
        if await fail_pair(conn, pair_id, reason, was=by_id[pair_id].state_reason)
    ]
    recovered = [
        pair_id for pair_id in plan.recover if await _recover(conn, pair_id, by_id[pair_id].state_reason)
    ]
    return failed, recovered
