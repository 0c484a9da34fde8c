"""The apply layer: one pass over one calendar of one pair, with all I/O injected.

Read every page of changes since the stored cursor (a full read when there is none or it
expired), add the deletions the feed cannot show (`_add_absent` after a full read,
`_add_netted` after an incremental one), plan each change, judge the whole pass with the
breaker before anything is deleted,
then apply the actions (in order, or several independent ones at once: `concurrency`),
recording each link right after its write succeeded. The
cursor advances only once every change of the pass was applied, so a crash or a provider error
replays the pass, which is safe because every step is idempotent (echoes and unchanged content
are skipped, creates look for their mirror first, a delete of something gone is done).

A change that fails for a reason that belongs to that one event (`isolation.is_event_fault`:
an unsupported recurrence, a 400 for the item) does not stop the pass: it is left out, handed
to the `FailureLog` with the rest of the pass's outcome before the cursor moves, and tried
again when it changes, on a full read, or by `retry_events` (`calbridge pairs retry`). So one
bad event can neither freeze its calendar nor make every later pass re-read it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from calbridge.errors import PairPaused, TransientProviderError
from calbridge.pairs.event_failures import FailedEvent
from calbridge.pairs.policy import Policy, Side
from calbridge.providers.base import Change, Fetched, Removed
from calbridge.translate.errors import UnsupportedRecurrence
from processor.metrics import NOT_MIRRORED, SYNC_ACTIONS, SYNC_CONFLICTS, SYNC_PAUSES
from processor.sync.actions import Action, Create, Delete, Outcome, Plan, ReadCounterpart, Seen, Skip, Update
from processor.sync.apply import apply_action
from processor.sync.breaker import BreakerLimits, Pause, judge_deletions, judge_full_read, needs_linked_count
from processor.sync.context import CalendarSide, Hint, PairContext
from processor.sync.failure_log import FailureLog
from processor.sync.feed import in_apply_order, read_changes
from processor.sync.isolation import failed_event, is_event_fault, series_failed
from processor.sync.links import LinkRepository, StoredCursor
from processor.sync.pass_links import PassLinks, wanted_ids
from processor.sync.plan import change_id, is_removal, owns, plan
from processor.sync.record import Link
from processor.sync.series import DEFAULT_HORIZON, Horizon, SeriesFallback, is_piece_of, unmap_parts

__all__ = [
    "CLOCK_SKEW",
    "CalendarSide",
    "Hint",
    "PairContext",
    "PassSummary",
    "SeriesMissing",
    "retry_events",
    "run_pass",
]


log = structlog.get_logger("calbridge.processor")

# How far apart the clocks of two processor replicas (and a provider's view of its own writes)
# may be: links saved this long before a cursor's read began are checked too (`_add_netted`).
CLOCK_SKEW = timedelta(seconds=5)


class SeriesMissing(TransientProviderError):
    """An occurrence change could not land: its linked series is gone on the target for now."""


@dataclass(slots=True)
class PassSummary:
    side: Side
    full: bool = False
    changes: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    conflicts: int = 0
    failed: list[FailedEvent] = field(default_factory=list)  # left out: see `isolation`
    handled: list[str] = field(default_factory=list)  # ids of the changes that went through

    @property
    def writes(self) -> int:
        return sum(self.outcomes[o] for o in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED))


async def run_pass(
    pair: PairContext,
    links: LinkRepository,
    hint: Hint,
    *,
    limits: BreakerLimits | None = None,
    confirm_deletions: bool = False,
    concurrency: int = 1,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    failures: FailureLog | None = None,
    horizon: Horizon = DEFAULT_HORIZON,
) -> PassSummary:
    """Sync the changes of the hinted calendar into the other one. Raises PairPaused when the
    breaker stops the pass (nothing applied), and provider errors as they come, but for the
    failures of single events: those are in the summary and, before the cursor moves, handed
    to `failures`.

    `concurrency` > 1 applies up to that many changes at once (see `_apply_in_lanes`). `now` is
    the clock the link repository stamps saved links with, and the one a series mirrored by
    its occurrences measures its `horizon` from (`series`)."""
    policy = pair.policy
    side = pair.side_of(hint.calendar)
    source = pair.calendar(side)
    summary = PassSummary(side)
    stored = await links.load_cursor(source.ref)
    read_at = now()
    changes, next_cursor, summary.full = await read_changes(source, stored.token if stored else None)
    if summary.full:
        changes = await _add_absent(pair, links, side, changes, confirm_deletions)
    elif stored is not None and stored.read_at is not None:
        changes = await _add_netted(pair, links, side, changes, stored)
    fallback = SeriesFallback(pair, links, side, now(), horizon)
    await _apply_changes(
        pair, links, side, changes, summary, limits, confirm_deletions, concurrency, fallback
    )
    if failures is not None:
        await failures.settle(policy.pair_id, side, summary.failed, summary.handled)
    if next_cursor is not None:
        await links.save_cursor(source.ref, next_cursor, full=summary.full, read_at=read_at)
    log.info(
        "pass_applied",
        pair=policy.pair_id,
        side=side.value,
        full=summary.full,
        changes=summary.changes,
        failed=len(summary.failed),
        **{outcome.value: count for outcome, count in summary.outcomes.items()},
    )
    return summary


async def retry_events(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    event_ids: Sequence[str],
    *,
    limits: BreakerLimits | None = None,
    concurrency: int = 1,
    failures: FailureLog | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    horizon: Horizon = DEFAULT_HORIZON,
) -> PassSummary:
    """Read these events of `side` again by id and sync them as a pass would (the cursor is
    left alone): an event gone meanwhile is a deletion. What fails again is handed back to
    `failures` and in the summary; what goes through clears its failure."""
    source = pair.calendar(side)
    summary = PassSummary(side)
    changes: list[Change] = []
    for event_id in dict.fromkeys(event_ids):
        fetched = await source.provider.get(source.address, event_id)
        changes.append(Removed(event_id) if fetched is None else fetched)
    fallback = SeriesFallback(pair, links, side, now(), horizon)
    await _apply_changes(pair, links, side, changes, summary, limits, False, concurrency, fallback)
    if failures is not None:
        await failures.settle(pair.policy.pair_id, side, summary.failed, summary.handled)
    log.info(
        "events_retried",
        pair=pair.policy.pair_id,
        side=side.value,
        changes=summary.changes,
        failed=len(summary.failed),
    )
    return summary


async def _apply_changes(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    changes: list[Change],
    summary: PassSummary,
    limits: BreakerLimits | None,
    confirm_deletions: bool,
    concurrency: int,
    series: SeriesFallback,
) -> None:
    """Plan and apply `changes`: the breaker first, then in lanes, then what waited for a series;
    last, the expanded series whose horizon fell behind (`series.SeriesFallback.extend`)."""
    policy = pair.policy
    changes = in_apply_order(changes)
    summary.changes = len(changes)
    links = PassLinks(links)  # one query per side for the links the changes name
    await links.prefetch(policy.pair_id, wanted_ids(policy, side, changes))
    series.links = links

    if not confirm_deletions:
        planned = [await _plan_once(pair, links, side, change) for change in changes]
        limits = limits or BreakerLimits()
        linked = await links.count_live(policy.pair_id) if needs_linked_count(planned, limits) else 0
        verdict = judge_deletions(planned, linked, limits)
        if isinstance(verdict, Pause):
            # Before asking a person, drop the deletions of events already gone (our own earlier
            # deletion read back after a failed pass, an origin deleted on both sides): they
            # delete nothing. One read per planned deletion, only when the breaker would trip.
            planned = await _without_deletions_of_the_gone(pair, planned)
            verdict = judge_deletions(planned, linked, limits)
        if isinstance(verdict, Pause):
            SYNC_PAUSES.inc()
            raise PairPaused(policy.pair_id, verdict.reason)

    waiting = await _apply_in_lanes(pair, links, side, changes, summary, concurrency, series)
    for change in waiting:
        action: Action | None = None
        try:
            action, outcome = await _apply_change(pair, links, side, change, series, adopt=summary.full)
        except Exception as exc:
            if not is_event_fault(exc):
                raise
            summary.failed.append(failed_event(change_id(change), _provider_of(pair, side, action), exc))
            continue
        if outcome is Outcome.SKIP_NO_MASTER and isinstance(action, Create | Update):
            # The series is linked but gone on the target: the other side's pass is about to
            # restore or delete it. Retry the whole pass then; the cursor stays where it is.
            raise SeriesMissing(f"the series of an occurrence is missing on {action.target}")
        summary.outcomes[outcome] += 1
        summary.handled.append(change_id(change))
        _note_conflict(policy, action, summary)
        _note_not_mirrored(policy, action)
    await _extend_series(pair, links, side, series, summary)
    for outcome, count in summary.outcomes.items():
        SYNC_ACTIONS.labels(outcome.value).inc(count)


async def _without_deletions_of_the_gone(pair: PairContext, planned: list[Plan]) -> list[Plan]:
    """The planned actions less the deletions whose target no longer exists, or never did (an
    event made and deleted before any pass copied it: its stamp finds no mirror): they delete
    nothing."""
    kept: list[Plan] = []
    for action in planned:
        if isinstance(action, Delete) and (action.target_id is not None or action.stamp is not None):
            target = pair.calendar(action.target)
            if action.target_id is not None:
                found = await target.provider.get(target.address, action.target_id)
            else:
                assert action.stamp is not None
                found = await target.provider.find_mirror(target.address, action.stamp)
            if found is None or found.event.cancelled:
                continue
        kept.append(action)
    return kept


def _provider_of(pair: PairContext, side: Side, action: Action | None) -> str:
    """The provider an action writes to (the other side's when nothing was planned yet)."""
    target = action.target if isinstance(action, Create | Update | Delete) else side.other
    return pair.calendar(target).provider.provider.value


def _lane(change: Change) -> str:
    """Changes that may touch the same link share a lane and keep their order in it: a series
    and its exceptions (the series first, as `in_apply_order` sorted them), and copies that
    carry the same mirror stamp. Every other change is independent of the rest of the pass."""
    if isinstance(change, Fetched):
        if change.event.instance_of is not None:
            return f"series:{change.event.instance_of.master_id}"
        if change.stamp is not None and change.event.recurrence is None:
            return f"stamp:{change.stamp.source_id}"
    return f"series:{change_id(change)}"


async def _apply_in_lanes(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    changes: list[Change],
    summary: PassSummary,
    concurrency: int,
    series: SeriesFallback,
) -> list[Change]:
    """Plan and apply every change, up to `concurrency` lanes at once, each lane in order.

    Each write still records its link right after it succeeded. A change that fails for a
    reason of its own (`is_event_fault`) is left out and noted in `summary.failed`, and so are
    the occurrence changes of a series left out. After any other failure no new change is
    started; those already running finish (or fail) and the first error is raised, so the
    cursor stays put and the next attempt replays the pass idempotently. Returns the changes
    that wait for a series created later in the pass."""
    lanes: dict[str, list[Change]] = {}
    for change in changes:
        lanes.setdefault(_lane(change), []).append(change)
    pending = deque(lanes.values())
    waiting: list[Change] = []
    failures: list[Exception] = []
    left_out: dict[str, FailedEvent] = {}  # by source event id

    async def work() -> None:
        while pending and not failures:
            for change in pending.popleft():
                if failures:
                    return
                event_id = change_id(change)
                master_id = _series_of(change)
                if master_id is not None and master_id in left_out:
                    left_out[event_id] = series_failed(event_id, left_out[master_id])
                    continue
                action: Action | None = None
                try:
                    action, outcome = await _apply_change(
                        pair, links, side, change, series, adopt=summary.full
                    )
                except Exception as exc:
                    if not is_event_fault(exc):
                        failures.append(exc)
                        return
                    left_out[event_id] = failed_event(event_id, _provider_of(pair, side, action), exc)
                    continue
                if outcome is Outcome.SKIP_NO_MASTER:
                    waiting.append(change)  # its series may be (re)created later in this pass
                    continue
                summary.outcomes[outcome] += 1
                summary.handled.append(event_id)
                if action is not None:
                    _note_conflict(pair.policy, action, summary)
                    _note_not_mirrored(pair.policy, action)

    await asyncio.gather(*(work() for _ in range(max(1, min(concurrency, len(lanes))))))
    if failures:
        raise failures[0]
    summary.failed.extend(left_out.values())
    return waiting


def _series_of(change: Change) -> str | None:
    """The series id of an occurrence change (None for anything else)."""
    if isinstance(change, Fetched) and change.event.instance_of is not None:
        return change.event.instance_of.master_id
    return None


def _note_not_mirrored(policy: Policy, action: Action | None) -> None:
    """A kind of event that is never mirrored: logged and counted with its kind, once per read."""
    if isinstance(action, Skip) and action.outcome is Outcome.SKIP_EVENT_TYPE:
        kind = action.reason.split(":", 1)[0]
        NOT_MIRRORED.labels(kind).inc()
        log.info("event_not_mirrored", pair=policy.pair_id, kind=kind, reason=action.reason)


def _note_conflict(policy: Policy, action: Action | None, summary: PassSummary) -> None:
    if isinstance(action, Create | Update) and action.conflict is not None:
        summary.conflicts += 1
        SYNC_CONFLICTS.labels(action.conflict.winner.value).inc()
        log.info(
            "conflict_resolved",
            pair=policy.pair_id,
            winner=action.conflict.winner.value,
            reason=action.conflict.reason,
            evidence=action.conflict.evidence,
        )


async def _add_absent(
    pair: PairContext, links: LinkRepository, side: Side, changes: list[Change], confirm: bool
) -> list[Change]:
    """A full read lists what exists, not what was deleted: a linked event missing from it is
    checked one by one (a windowed read also omits events that still exist)."""
    pair_id = pair.policy.pair_id
    linked = await links.live_ids(pair_id, side)
    present = sum(1 for change in changes if not is_removal(change))
    if not confirm:
        verdict = judge_full_read(present, len(linked))
        if isinstance(verdict, Pause):
            SYNC_PAUSES.inc()
            raise PairPaused(pair_id, verdict.reason)
    seen = {change_id(change) for change in changes}
    source = pair.calendar(side)
    fallbacks = {r.id_on(side) for r in await links.series_records(pair_id, side)}
    for event_id in sorted(linked - seen):
        if is_piece_of(event_id, fallbacks):
            continue  # a fallback's piece: its series' read (or retirement) keeps it in step
        fetched = await source.provider.get(source.address, event_id)
        if fetched is None or fetched.event.cancelled:
            changes.append(Removed(event_id))
    return changes


async def _add_netted(
    pair: PairContext, links: LinkRepository, side: Side, changes: list[Change], stored: StoredCursor
) -> list[Change]:
    """An incremental feed shows what changed since its cursor, netted: an event made after the
    cursor and deleted again before this read is not in it at all (Exchange ICS, Graph delta).
    When that event is a mirror we wrote after the cursor's read began (its echo was skipped,
    its pass failed under throttling, or a pass wrote it and then failed), a person's deletion
    of it would never be seen. The same holds for a person's event that a failed pass read and
    copied (its mirror is written, the cursor did not move) and that was deleted before the next
    read: its mirror would stay for ever. So every mirror on this side whose link was saved since
    the read began, and every person's event on this side linked since the cursor was stored,
    that the feed does not mention is read directly; one that is gone is a deletion like any
    other. (The feed covers every mirror written before the read began, and every person's event
    a pass that stored its cursor had read.)"""
    assert stored.read_at is not None
    pair_id = pair.policy.pair_id
    seen = {change_id(change) for change in changes}
    linked = await links.linked_saved_since(
        pair_id, side, stored.read_at - CLOCK_SKEW, origins_since=stored.saved_at
    )
    unseen = linked - seen
    if not unseen:
        return changes
    source = pair.calendar(side)
    netted = []
    for event_id in sorted(unseen):
        fetched = await source.provider.get(source.address, event_id)
        if fetched is None or fetched.event.cancelled:
            netted.append(Removed(event_id))
    log.info("pass_checked_unseen", pair=pair_id, side=side.value, checked=len(unseen), gone=len(netted))
    return [*changes, *netted]


# --- applying one change


async def _apply_change(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    change: Change,
    series: SeriesFallback,
    *,
    adopt: bool,
) -> tuple[Action | None, Outcome]:
    """Plan and apply one change. A series the target refuses as one pattern, and every change
    of a series mirrored that way, goes through its fallback (`series`)."""

    async def piece(one: Change) -> Outcome:
        return (await _plan_and_apply(pair, links, side, one, adopt=adopt))[1]

    routed = await series.route(change, piece)
    if routed is not None:
        return None, routed
    try:
        return await _plan_and_apply(pair, links, side, change, adopt=adopt)
    except UnsupportedRecurrence:
        if not (isinstance(change, Fetched) and change.event.recurrence and not change.event.instance_of):
            raise
        link = await links.find(pair.policy.pair_id, side, change_id(change))
        return None, await series.mirror(change, link, piece)


async def _plan_and_apply(
    pair: PairContext, links: LinkRepository, side: Side, change: Change, *, adopt: bool
) -> tuple[Action, Outcome]:
    action = unmap_parts(await _plan_with_reads(pair, links, side, change))
    return action, await apply_action(pair, links, action, adopt=adopt)


async def _extend_series(
    pair: PairContext, links: LinkRepository, side: Side, series: SeriesFallback, summary: PassSummary
) -> None:
    """Write the occurrences that entered the horizon of series mirrored by their occurrences."""

    async def piece(one: Change) -> Outcome:
        return (await _plan_and_apply(pair, links, side, one, adopt=summary.full))[1]

    try:
        extended = await series.extend(set(summary.handled), piece)
    except Exception as exc:
        if not is_event_fault(exc):
            raise
        log.warning("series_extend_failed", pair=pair.policy.pair_id, error=type(exc).__name__)
        return
    if extended:
        log.info("series_extended", pair=pair.policy.pair_id, side=side.value, series=extended)


# --- planning


async def _links_for(
    policy: Policy, links: LinkRepository, side: Side, change: Change
) -> tuple[Link | None, Link | None]:
    link = await links.find(policy.pair_id, side, change_id(change))
    master: Link | None = None
    if isinstance(change, Fetched):
        stamp = change.stamp
        if link is None and stamp is not None and owns(policy, stamp):
            link = await links.find(policy.pair_id, side.other, stamp.source_id)
        if change.event.instance_of is not None:
            master = await links.find(policy.pair_id, side, change.event.instance_of.master_id)
    return link, master


async def _plan_once(pair: PairContext, links: LinkRepository, side: Side, change: Change) -> Plan:
    link, master = await _links_for(pair.policy, links, side, change)
    return plan(pair.policy, side, change, link, master_link=master)


async def _plan_with_reads(pair: PairContext, links: LinkRepository, side: Side, change: Change) -> Action:
    link, master = await _links_for(pair.policy, links, side, change)
    decided = plan(pair.policy, side, change, link, master_link=master)
    if isinstance(decided, ReadCounterpart):
        other = pair.calendar(decided.side)
        seen = Seen(await other.provider.get(other.address, decided.event_id))
        if master is None and seen.fetched is not None and seen.fetched.event.instance_of is not None:
            # Restoring an occurrence from its origin: the series link, found from that side.
            master_id = seen.fetched.event.instance_of.master_id
            master = await links.find(pair.policy.pair_id, decided.side, master_id)
        decided = plan(pair.policy, side, change, link, master_link=master, counterpart=seen)
    assert not isinstance(decided, ReadCounterpart), "the planner asks for the counterpart once"
    if isinstance(decided, Skip) and decided.link == link:
        return Skip(decided.outcome, decided.reason)  # nothing new to record
    return decided
