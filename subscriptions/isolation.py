"""The renewer's step for connections it cannot open: their pairs in `error`, the rest untouched.

Before each pass the renewer reads every connection (`wiring.ConnectionProviders.refresh`). For
those it cannot open, this step moves their active pairs to `error` with the reason (which names
the connection and the remedy: `calbridge pairs list/show` print it); pairs over connections it
can open are renewed and resynced as usual by the pass that follows. When a connection opens
again, its pairs that were in `error` for that reason alone become active again and a catch-up is
requested (a `resume` RESYNC per source calendar: a full read, because while the pair was out
another pair of the same calendar may have moved the calendar's cursor past changes it never
saw). The decision is `calbridge.pairs.connection_faults.plan_connection_faults` (pure).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import BusUnavailable, ConnectionUnusable
from calbridge.logs import get_logger
from calbridge.pairs.admin import HintPublisher, baseline_hints
from calbridge.pairs.connection_faults import (
    apply_connection_faults,
    fail_pair,
    plan_connection_faults,
    read_pair_connections,
)
from calbridge.pairs.records import fetch_pairs

__all__ = ["RESUME", "Isolated", "isolate_connection_faults"]

log = get_logger("calbridge.renewer")

RESUME = "resume"  # the processor reads a `resume` RESYNC from scratch (processor/cursors.py)


@dataclass(frozen=True, slots=True)
class Isolated:
    failed: tuple[str, ...] = ()  # pair ids put in error now
    recovered: tuple[str, ...] = ()  # pair ids active again, their catch-up requested


async def isolate_connection_faults(
    engine: AsyncEngine,
    bus: HintPublisher,
    unusable: Mapping[str, ConnectionUnusable],
    usable: Collection[str],
) -> Isolated:
    """Fail the pairs of `unusable` connections; bring back those whose connections all open."""
    reasons = {connection_id: problem.reason for connection_id, problem in unusable.items()}
    async with engine.begin() as conn:
        found = await read_pair_connections(conn, reasons.keys())
        if not found:
            return Isolated()
        plan = plan_connection_faults(found, reasons, usable)
        failed, recovered = await apply_connection_faults(conn, found, plan)
    for pair_id in failed:
        log.warning("pair_failed_connection_unusable", pair=pair_id, reason=plan.fail[pair_id])
    if not recovered:
        return Isolated(tuple(failed))
    async with engine.connect() as conn:
        records = await fetch_pairs(conn, ids=recovered)
    try:
        await bus.publish([hint for pair in records for hint in baseline_hints(pair, reason=RESUME)])
    except BusUnavailable:
        # Without its catch-up a pair must not look healthy: back to error, retried next pass.
        before = {pair.id: pair.state_reason for pair in found}
        async with engine.begin() as conn:
            for pair_id in recovered:
                reason = before[pair_id]
                if reason is not None:
                    await fail_pair(conn, pair_id, reason)
        log.warning("pair_recovery_not_published", pairs=len(recovered))
        return Isolated(tuple(failed))
    for pair_id in recovered:
        log.info("pair_recovered_connection_usable", pair=pair_id)
    return Isolated(tuple(failed), tuple(recovered))
