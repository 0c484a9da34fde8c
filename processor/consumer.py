"""The change-event handler: policies composed around the engine's pass.

For one change event (a hint that one calendar changed):

1. coalescing (`coalesce.PassLedger`): a successful pass over this calendar that started after
   the hint arrived already read its change: acknowledge at once (a baseline resync, which asks
   for a full read, is never coalesced: `cursors.wants_full_read`);
2. which pairs (`directory`): every active pair with the calendar on either side; none -> ack;
   when every such pair's link already records the event version the hint names (`echoes`:
   the echo of our own write), no pass is needed; the links this process saved last are
   looked at before the store (`recent_links`);
3. one pass per pair (`engine.run_pass`), reading from the hinted side, with providers opened
   once per connection (`providers`), instrumented and capped per mailbox; the pass runs under
   the pair's lock (`pairlock`), so the two directions of a pair never interleave, even on two
   replicas;
4. failures (`failures.decide`): throttled -> BackOff(the provider's wait; no attempt used),
   transient -> the bus's retry schedule, access refused / credential refused / calendar gone
   -> confirmed by an access check (`pair_health`), then the pair is set to `error` with a
   reason naming the remedy and the hint acknowledged, a connection that cannot be opened ->
   the pair is set to `error` with the reason and the hint acknowledged, other permanent ->
   Reject (to calbridge.dlq, the reason naming the pair), breaker -> the pair is paused in the
   store and the hint acknowledged. Before a hint is dead-lettered or its pair failed, though,
   the consumer asks whether the pair's connections were replaced in the store meanwhile
   (`providers.replaced`): then it was the old credentials that were refused, and the hint is
   retried with the new ones. A pass that fails for a reason that may pass leaves it as the
   pair's `last_error`; the next successful pass clears it.

Events that cannot be copied never fail the pass: the engine leaves them out and records them
on the pair (`directory.failure_log`) before the cursor moves.

The engine commits each link after its write and the cursor after the pass; this handler
returns only after that, and returning is what acknowledges the message. A crash anywhere
before the return redelivers the hint, and the pass runs again idempotently.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from calbridge.bus import BackOff, Reject, RetryLater
from calbridge.bus.deadletter import describe_error
from calbridge.bus.dispatch import arrival_time
from calbridge.events import ChangeEvent
from calbridge.pairs.policy import Side
from calbridge.providers.base import CalendarAddress
from processor.coalesce import PassLedger
from processor.cursors import SharedCursor, wants_full_read
from processor.directory import CalendarRoute, PairDirectory, PairRoute
from processor.echoes import is_known_version
from processor.failures import CheckPair, FailPair, PausePair, decide, reason_with_pair
from processor.metrics import APPLY_SECONDS, CHANGE_LATENCY, CHANGES, HINTS, PAIR_LOCK_WAIT, QUEUE_LAG
from processor.pair_health import check_pair
from processor.pairlock import LocalPairLocks, PairLocks
from processor.providers import ProviderCache
from processor.sync.actions import Outcome
from processor.sync.breaker import BreakerLimits
from processor.sync.context import CalendarSide, Hint, PairContext
from processor.sync.engine import PassSummary, run_pass
from processor.sync.links import LinkRepository
from processor.sync.recent_links import RecentLinks
from processor.sync.series import DEFAULT_HORIZON, Horizon

__all__ = ["ChangeConsumer", "change_outcome"]

log = structlog.get_logger("calbridge.processor")

_NAMED = {
    Outcome.CREATED: "created",
    Outcome.UPDATED: "updated",
    Outcome.DELETED: "deleted",
    Outcome.SKIP_ECHO: "echo",
    Outcome.SKIP_UNCHANGED: "unchanged",
}


def change_outcome(outcome: Outcome) -> str:
    """The `calbridge_changes_total` label of a planner outcome."""
    return _NAMED.get(outcome, "skipped")


class ChangeConsumer:
    """Handles change events; pass it to `Bus.consume_changes`."""

    def __init__(
        self,
        directory: PairDirectory,
        links: LinkRepository,
        providers: ProviderCache,
        *,
        limits: BreakerLimits | None = None,
        concurrency: int = 1,
        horizon: Horizon = DEFAULT_HORIZON,
        ledger: PassLedger | None = None,
        locks: PairLocks | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._links = RecentLinks(links)
        self._providers = providers
        self._limits = limits or BreakerLimits()
        self._concurrency = concurrency
        self._horizon = horizon
        self._ledger = ledger or PassLedger()
        self._locks = locks or LocalPairLocks()
        self._clock = clock
        self.passes = 0  # passes run by this consumer (tests and the bench read it)
        self.handled = 0  # hints acknowledged by this consumer (synced, coalesced or without a pair)

    async def __call__(self, event: ChangeEvent) -> None:
        arrived = arrival_time()
        full = wants_full_read(event)  # only a full read covers a baseline
        if not full and self._ledger.covers(event.calendar, arrived):
            HINTS.labels("coalesced").inc()
            self.handled += 1
            return
        started = self._clock()
        QUEUE_LAG.observe(_age(event.received_at))
        candidates = await self._directory.pairs_of(event.calendar)
        active = [pair for pair in candidates if pair.active]
        if not active:
            HINTS.labels("no_active_pair").inc()
            log.info("hint_without_active_pair", calendar=event.calendar, pairs=len(candidates))
            self._ledger.record(event.calendar, started)
            self.handled += 1
            return
        # All or nothing: the pairs of one calendar share its cursor, so a pass for some of them
        # would move it past changes the skipped ones have not seen.
        if not full and all([await self._known(pair, event) for pair in active]):
            HINTS.labels("echo").inc()
            self.handled += 1
            return
        paused = 0
        failures: list[RetryLater | Reject] = []
        cursor = SharedCursor(self._links, event.calendar, from_scratch=full)
        for pair in active:  # one pair's failure does not hold back the others
            try:
                await self._sync(pair, event, cursor)
            except Exception as exc:
                outcome = await self._settle_failure(pair, event, exc)
                if outcome is None:
                    paused += 1
                else:
                    failures.append(outcome)
        if failures:
            raise _first_retry(failures)
        await cursor.commit()
        self._ledger.record(event.calendar, started)
        self.handled += 1
        if len(active) > paused:
            HINTS.labels("synced").inc()

    async def _known(self, pair: PairRoute, event: ChangeEvent) -> bool:
        """Whether the hint names an event version this pair's link already records (an echo)."""
        if event.resource is None:
            return False
        side = Side.GOOGLE if event.calendar == pair.google.ref else Side.MICROSOFT
        # Our own write's echo names the link this process saved a moment ago: no store read.
        if is_known_version(event, side, self._links.recalled(pair.id, side, event.resource)):
            return True
        link = await self._links.find(pair.id, side, event.resource)
        return is_known_version(event, side, link)

    async def _sync(self, pair: PairRoute, event: ChangeEvent, cursor: SharedCursor) -> None:
        async with contextlib.AsyncExitStack() as held:  # the providers, until the pass is done
            context = PairContext(
                pair.policy,
                await self._side(pair.google, held),
                await self._side(pair.microsoft, held),
            )
            await self._run(pair, event, cursor, context)

    async def _run(
        self, pair: PairRoute, event: ChangeEvent, cursor: SharedCursor, context: PairContext
    ) -> None:
        side = context.side_of(event.calendar)
        self.passes += 1
        waited = time.perf_counter()
        async with self._locks.hold(pair.id):  # everything the pass reads, it reads under the lock
            began = time.perf_counter()
            PAIR_LOCK_WAIT.observe(began - waited)
            failures = self._directory.failure_log(pair)
            summary = await run_pass(
                context,
                cursor,
                Hint(event.calendar, event.resource),
                limits=self._limits,
                concurrency=self._concurrency,
                failures=failures,
                horizon=self._horizon,
            )
        APPLY_SECONDS.labels(side.value).observe(time.perf_counter() - began)
        await self._directory.record_sync(pair.id)  # `calbridge pairs list` shows it
        if failures.recorded:
            self._directory.forget()  # the pair has failures now: the next pass may clear them
        if pair.last_error is not None:
            await self._directory.note_error(pair.id, None)  # it works again
        _count(summary)
        if summary.writes:
            CHANGE_LATENCY.observe(_age(event.received_at))

    async def _settle_failure(
        self, pair: PairRoute, event: ChangeEvent, error: Exception
    ) -> RetryLater | Reject | None:
        """Pause the pair when the breaker stopped its pass, or set it to error when its connection
        cannot be opened or the pass failed for the pair's own reason (None: the hint is done);
        otherwise the bus outcome that carries the hint's fate."""
        reason = reason_with_pair(pair.id, error)
        fate = decide(error, reason)
        connections = (pair.google.connection_id, pair.microsoft.connection_id)
        if isinstance(fate, Reject | FailPair | CheckPair) and await self._providers.replaced(connections):
            # Refused with credentials that were replaced meanwhile: try the new ones.
            log.info("pass_retried_with_new_credentials", pair=pair.id, error=type(error).__name__)
            HINTS.labels("retry").inc()
            return RetryLater(reason, 0.0)
        if isinstance(fate, PausePair):
            await self._directory.pause(pair.id, fate.reason)
            HINTS.labels("paused").inc()
            log.warning("pair_paused", pair=pair.id, calendar=event.calendar, reason=fate.reason)
            return None
        if isinstance(fate, FailPair):
            await self._directory.fail(pair.id, fate.reason)
            HINTS.labels("pair_failed").inc()
            log.warning("pair_failed", pair=pair.id, calendar=event.calendar, reason=fate.reason)
            return None
        if isinstance(fate, CheckPair):
            checked = await check_pair(pair, self._providers.lease)
            if checked.refused:
                if await self._directory.fail(pair.id, checked.reason):
                    log.warning(
                        "pair_failed", pair=pair.id, calendar=event.calendar, error=type(error).__name__
                    )
                HINTS.labels("pair_failed").inc()
                return None
            # Both sides pass the check: the refusal was about that one call. Undecided (the
            # check itself throttled or failing): try the hint again later.
            fate = decide(checked.undecided, fate.reason) if checked.undecided else RetryLater(fate.reason)
            if isinstance(fate, CheckPair | PausePair | FailPair):
                fate = RetryLater(fate.reason)
        log.warning(
            "pass_failed",
            pair=pair.id,
            calendar=event.calendar,
            attempt=event.attempt,
            error=type(error).__name__,
        )
        if isinstance(fate, BackOff):  # throttled: back-pressure, not a failure of the pair
            HINTS.labels("backoff").inc()
            return fate
        CHANGES.labels("failed").inc()
        HINTS.labels("dead_letter" if isinstance(fate, Reject) else "retry").inc()
        what = (
            "a change could not be applied" if isinstance(fate, Reject) else "the last sync failed, retrying"
        )
        last_error = f"{what}: {describe_error(error)}"
        if last_error != pair.last_error:  # an outage writes it once, not once per pass
            await self._directory.note_error(pair.id, last_error)
        return fate

    async def _side(self, calendar: CalendarRoute, held: contextlib.AsyncExitStack) -> CalendarSide:
        provider = await held.enter_async_context(self._providers.lease(calendar.connection_id))
        return CalendarSide(calendar.ref, CalendarAddress(calendar.owner, calendar.calendar), provider)


def _first_retry(failures: list[RetryLater | Reject]) -> RetryLater | Reject:
    """A hint with a pair worth retrying is retried (the pairs that succeeded re-run as no-ops);
    only when every failure is permanent is it dead-lettered. A real failure counts an attempt
    even if another pair was only throttled; among equals the longest wait wins."""
    retries = [failure for failure in failures if isinstance(failure, RetryLater)]
    if not retries:
        return failures[0]
    counted = [retry for retry in retries if not isinstance(retry, BackOff)]
    return max(counted or retries, key=lambda retry: retry.delay or 0.0)


def _count(summary: PassSummary) -> None:
    for outcome, count in summary.outcomes.items():
        CHANGES.labels(change_outcome(outcome)).inc(count)
    if summary.failed:
        CHANGES.labels("left_out").inc(len(summary.failed))
    if summary.conflicts:
        CHANGES.labels("conflict").inc(summary.conflicts)


def _age(received_at: datetime) -> float:
    return max(0.0, (datetime.now(UTC) - received_at).total_seconds())
