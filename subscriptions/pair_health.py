"""The renewer's care of pair health: pairs in `error` are checked again, and the gauges of what
is wrong are set from the store.

A pair the processor put in `error` (access refused, credential refused, calendar gone; see
`calbridge.pairs.health`) is not processed and has no subscriptions, so nothing would ever
notice that an admin restored its access. Every `CALBRIDGE_PAIR_RECHECK_INTERVAL` each such
pair (and each pair whose activation failed) is claimed (`claim_rechecks`: several renewers
never check one pair at once) and activated again exactly as `pairs resume` does it: access
checked on both sides, then `active` and a baseline resync, or still `error` with the reason of
this check. Once active, the renewer's own reconciliation subscribes its calendars again.

A pair in error because its connection cannot be opened is left to the renewer's connection
step (`subscriptions/isolation.py`), which brings it back when the connection opens; a pair whose
connection cannot be opened here for another reason is left as it is too.

The gauges are read from the store, so every replica shows the same numbers and they go down
when a failure clears: `calbridge_pairs{state}` and `calbridge_event_failures{provider,reason}`.
The latter is a gauge, not a counter: an event that cannot be copied stays broken until it
changes or someone acts, while a counter's rate would fall back to zero right after the first
attempt and an alert on it would clear itself with the problem still there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.logs import get_logger
from calbridge.metrics import REGISTRY
from calbridge.pairs.access import AccessChecker
from calbridge.pairs.admin import AddOutcome, HintPublisher, activate_pairs
from calbridge.pairs.event_failures import failure_totals
from calbridge.pairs.health import claim_rechecks
from calbridge.pairs.records import fetch_pairs
from calbridge.pairs.states import InvalidTransition, PairState
from calbridge.store.connection_records import is_unusable_reason
from calbridge.store.tables import pairs

__all__ = ["EVENT_FAILURES", "PAIRS", "PairHealth", "RecheckReport"]

log = get_logger("calbridge.renewer")

PAIRS = Gauge(
    "calbridge_pairs",
    "Pairs by state (active, paused, error, pending, removing).",
    ["state"],
    registry=REGISTRY,
)
EVENT_FAILURES = Gauge(
    "calbridge_event_failures",
    "Events currently left out of their pair's sync because they could not be copied, by the provider "
    "that could not take them and the reason (the error's class, e.g. UnsupportedRecurrence).",
    ["provider", "reason"],
    registry=REGISTRY,
)

LoadConnections = Callable[[Collection[str]], Awaitable[Mapping[str, Connection]]]


@dataclass
class RecheckReport:
    checked: int = 0
    restored: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    skipped: int = 0  # a connection that could not be opened


class PairHealth:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: HintPublisher,
        connections: LoadConnections,
        checker: AccessChecker,
        *,
        interval: timedelta,
        clock: Callable[[], datetime],
        batch: int = 50,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.connections = connections
        self.checker = checker
        self.interval = interval
        self.clock = clock
        self.batch = batch
        self._seen: set[tuple[str, str]] = set()  # gauge labels set so far (to zero when gone)

    async def tick(self) -> RecheckReport:
        report = await self.recheck()
        await self.observe()
        return report

    async def recheck(self) -> RecheckReport:
        """Check the pairs in `error` that are due, and activate those that pass."""
        report = RecheckReport()
        claimed = await claim_rechecks(self.engine, self.clock(), self.interval, self.batch)
        if not claimed:
            return report
        async with self.engine.connect() as conn:
            found = await fetch_pairs(conn, ids=claimed, states=[PairState.ERROR])
        # A connection that cannot be opened is the connection step's (`isolation`): it brings
        # those pairs back once the connection opens, and no access check can say more.
        records = [r for r in found if not is_unusable_reason(r.state_reason)]
        wanted = {r.google_connection_id for r in records} | {r.microsoft_connection_id for r in records}
        opened = await self.connections(wanted)
        usable = [r for r in records if {r.google_connection_id, r.microsoft_connection_id} <= opened.keys()]
        report.skipped = len(found) - len(usable)
        if not usable:
            return report
        try:
            results = await activate_pairs(self.engine, usable, opened, self.checker, self.bus)
        except InvalidTransition:  # resumed or removed meanwhile: the next round sees it
            return report
        report.checked = len(results)
        for result in results:
            if result.outcome is AddOutcome.ADDED:
                report.restored.append(result.pair.id)
                log.info("pair_restored", pair=result.pair.id)
            elif result.outcome is AddOutcome.FAILED:
                report.still_failing.append(result.pair.id)
        return report

    async def observe(self) -> None:
        """Set the pair and event-failure gauges from the store."""
        async with self.engine.connect() as conn:
            states = dict(
                (row[0], int(row[1]))
                for row in await conn.execute(
                    sa.select(pairs.c.state, sa.func.count()).group_by(pairs.c.state)
                )
            )
            totals = await failure_totals(conn)
        for state in PairState:
            PAIRS.labels(state.value).set(states.get(state.value, 0))
        for key in self._seen - totals.keys():
            EVENT_FAILURES.labels(*key).set(0)
        for (provider, reason), count in totals.items():
            EVENT_FAILURES.labels(provider, reason).set(count)
        self._seen |= totals.keys()
