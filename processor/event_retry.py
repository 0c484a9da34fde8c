"""`calbridge pairs retry PAIR`: try every failed event of a pair again, now, and say what happened.

An event failure is retried on its own when the event changes again, and on a full resync; an
operator who fixed the cause (or a release that taught calbridge a new pattern) wants it now and
wants to see the answer. So the pair's failed events are read again from their source by id and
synced exactly as a pass would sync them (`engine.retry_events`: plan, breaker, apply, links),
under the pair's lock so no pass of the processor runs on the pair meanwhile. The cursor is left
alone. What goes through clears its failure; what fails again is recorded again (one more
attempt, a fresh reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import CalbridgeError
from calbridge.pairs.event_failures import EventFailure, FailedEvent, fetch_failures
from calbridge.pairs.policy import Side
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.states import PairState
from calbridge.providers.base import CalendarAddress
from processor.directory import CalendarRoute, PairDirectory, PairRoute
from processor.pairlock import pair_locks_for
from processor.providers import OpenProvider
from processor.sync.actions import Outcome
from processor.sync.context import CalendarSide, PairContext
from processor.sync.engine import retry_events
from processor.sync.failure_log import StoredFailureLog
from processor.sync.links import StoredLinks

__all__ = ["PairNotRetryable", "RetryResult", "retry_pair_failures"]


class PairNotRetryable(CalbridgeError):
    """Only an active pair's events are retried (a paused or failed pair is not synced at all)."""


@dataclass
class RetryResult:
    before: list[EventFailure] = field(default_factory=list)  # what was failing
    succeeded: list[EventFailure] = field(default_factory=list)
    failed: list[tuple[EventFailure, FailedEvent]] = field(default_factory=list)  # with the new reason
    outcomes: dict[str, int] = field(default_factory=dict)  # created, updated, deleted, ...


async def retry_pair_failures(
    engine: AsyncEngine, pair_id: str, open_connection: OpenProvider
) -> RetryResult:
    """Retry every failed event of an active pair; see the module docstring."""
    async with engine.connect() as conn:
        record = await fetch_pair(conn, pair_id)
        result = RetryResult(before=await fetch_failures(conn, pair_id))
    if record.state is not PairState.ACTIVE:
        raise PairNotRetryable(f"pair {pair_id} is {record.state}; resume it first (calbridge pairs resume)")
    if not result.before:
        return result
    route = await _route(engine, record.google_ref, pair_id)
    google = await _side(route.google, open_connection)
    context = PairContext(route.policy, google, await _side(route.microsoft, open_connection))
    links = StoredLinks(engine)
    locks = pair_locks_for(engine)
    try:
        async with locks.hold(pair_id):
            for side in Side:
                wanted = [f for f in result.before if f.side is side]
                if not wanted:
                    continue
                summary = await retry_events(
                    context,
                    links,
                    side,
                    [f.event_id for f in wanted],
                    failures=StoredFailureLog(engine),
                )
                again = {f.event_id: f for f in summary.failed}
                for failure in wanted:
                    if failure.event_id in again:
                        result.failed.append((failure, again[failure.event_id]))
                    else:
                        result.succeeded.append(failure)
                for outcome, count in summary.outcomes.items():
                    name = outcome.value if outcome in _WRITES else "unchanged"
                    result.outcomes[name] = result.outcomes.get(name, 0) + count
    finally:
        await locks.close()
    return result


_WRITES = (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)


async def _route(engine: AsyncEngine, google_ref: str, pair_id: str) -> PairRoute:
    for route in await PairDirectory(engine).pairs_of(google_ref):
        if route.id == pair_id:
            return route
    raise PairNotRetryable(f"pair {pair_id} was removed meanwhile")


async def _side(calendar: CalendarRoute, open_connection: OpenProvider) -> CalendarSide:
    provider = await open_connection(calendar.connection_id)
    return CalendarSide(calendar.ref, CalendarAddress(calendar.owner, calendar.calendar), provider)
