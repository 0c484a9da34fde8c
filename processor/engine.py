"""The apply layer: one pass over one calendar of one pair, with all I/O injected.

Read every page of changes since the stored cursor (a full read when there is none or it
expired), plan each change, judge the whole pass with the breaker before anything is deleted,
then apply the actions in order, recording each link right after its write succeeded. The
cursor advances only once every change of the pass was applied, so a crash or a provider error
replays the pass, which is safe because every step is idempotent (echoes and unchanged content
are skipped, creates look for their mirror first, a delete of something gone is done).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from calbridge.errors import CursorExpired, NotFound, PairPaused, TransientProviderError
from calbridge.model import Event
from calbridge.providers.base import CalendarAddress, CalendarProvider, Change, Fetched, MirrorStamp, Removed
from processor.actions import Action, Create, Delete, Outcome, Plan, ReadCounterpart, Seen, Skip, Update
from processor.breaker import Limits, Pause, judge_deletions, judge_full_read
from processor.links import LinkRepository
from processor.metrics import SYNC_ACTIONS, SYNC_CONFLICTS, SYNC_PAUSES
from processor.plan import change_id, is_removal, plan, settle
from processor.policy import Policy, Side
from processor.projection import fingerprint
from processor.record import Link

__all__ = ["CalendarSide", "Hint", "PairContext", "PassSummary", "SeriesMissing", "run_pass"]

log = structlog.get_logger("calbridge.processor")


class SeriesMissing(TransientProviderError):
    """An occurrence change could not land: its linked series is gone on the target for now."""


@dataclass(frozen=True, slots=True)
class CalendarSide:
    ref: str  # the calendar ref (store row id)
    address: CalendarAddress
    provider: CalendarProvider


@dataclass(frozen=True, slots=True)
class PairContext:
    policy: Policy
    google: CalendarSide
    microsoft: CalendarSide

    def calendar(self, side: Side) -> CalendarSide:
        return self.google if side is Side.GOOGLE else self.microsoft

    def side_of(self, calendar_ref: str) -> Side:
        if calendar_ref == self.google.ref:
            return Side.GOOGLE
        if calendar_ref == self.microsoft.ref:
            return Side.MICROSOFT
        raise ValueError(f"calendar {calendar_ref!r} is not part of pair {self.policy.pair_id!r}")


@dataclass(frozen=True, slots=True)
class Hint:
    """Which calendar changed. The resource id only traces the hint: the pass reads the feed
    since the cursor, which also catches changes whose hints were dropped."""

    calendar: str
    resource_id: str | None = None


@dataclass(slots=True)
class PassSummary:
    side: Side
    full: bool = False
    changes: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    conflicts: int = 0

    @property
    def writes(self) -> int:
        return sum(self.outcomes[o] for o in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED))


async def run_pass(
    pair: PairContext,
    links: LinkRepository,
    hint: Hint,
    *,
    limits: Limits | None = None,
    confirm_deletions: bool = False,
) -> PassSummary:
    """Sync the changes of the hinted calendar into the other one. Raises PairPaused when the
    breaker stops the pass (nothing applied), and provider errors as they come."""
    policy = pair.policy
    side = pair.side_of(hint.calendar)
    source = pair.calendar(side)
    summary = PassSummary(side)
    cursor = await links.load_cursor(source.ref)
    changes, next_cursor, summary.full = await _read_changes(source, cursor)
    if summary.full:
        changes = await _add_absent(pair, links, side, changes, confirm_deletions)
    changes = _in_apply_order(changes)
    summary.changes = len(changes)

    if not confirm_deletions:
        planned = [await _plan_once(pair, links, side, change) for change in changes]
        verdict = judge_deletions(planned, await links.count_live(policy.pair_id), limits or Limits())
        if isinstance(verdict, Pause):
            SYNC_PAUSES.inc()
            raise PairPaused(policy.pair_id, verdict.reason)

    waiting: list[Change] = []
    for change in changes:
        action = await _plan_with_reads(pair, links, side, change)
        outcome = await _apply(pair, links, action)
        if outcome is Outcome.SKIP_NO_MASTER:
            waiting.append(change)  # its series may be (re)created later in this pass
            continue
        summary.outcomes[outcome] += 1
        _note_conflict(policy, action, summary)
    for change in waiting:
        action = await _plan_with_reads(pair, links, side, change)
        outcome = await _apply(pair, links, action)
        if outcome is Outcome.SKIP_NO_MASTER and isinstance(action, Create | Update):
            # The series is linked but gone on the target: the other side's pass is about to
            # restore or delete it. Retry the whole pass then; the cursor stays where it is.
            raise SeriesMissing(f"the series of an occurrence is missing on {action.target}")
        summary.outcomes[outcome] += 1
        _note_conflict(policy, action, summary)
    for outcome, count in summary.outcomes.items():
        SYNC_ACTIONS.labels(outcome.value).inc(count)
    if next_cursor is not None:
        await links.save_cursor(source.ref, next_cursor, full=summary.full)
    log.info(
        "pass_applied",
        pair=policy.pair_id,
        side=side.value,
        full=summary.full,
        changes=summary.changes,
        **{outcome.value: count for outcome, count in summary.outcomes.items()},
    )
    return summary


def _note_conflict(policy: Policy, action: Action, summary: PassSummary) -> None:
    if isinstance(action, Create | Update) and action.conflict is not None:
        summary.conflicts += 1
        SYNC_CONFLICTS.labels(action.conflict.winner.value).inc()
        log.info(
            "conflict_resolved",
            pair=policy.pair_id,
            winner=action.conflict.winner.value,
            reason=action.conflict.reason,
        )


# --- reading


async def _read_changes(source: CalendarSide, cursor: str | None) -> tuple[list[Change], str | None, bool]:
    """All pages since `cursor`; an expired cursor restarts as a full read (idempotent)."""
    try:
        changes, next_cursor = await _read_pages(source, cursor)
        return changes, next_cursor, cursor is None
    except CursorExpired:
        if cursor is None:
            raise
        log.info("cursor_expired", calendar=source.ref)
        changes, next_cursor = await _read_pages(source, None)
        return changes, next_cursor, True


async def _read_pages(source: CalendarSide, cursor: str | None) -> tuple[list[Change], str | None]:
    changes: list[Change] = []
    next_cursor: str | None = None
    async for page in source.provider.changes(source.address, cursor):
        changes.extend(page.changes)
        next_cursor = page.cursor or next_cursor
    return changes, next_cursor


def _latest(changes: Sequence[Change]) -> list[Change]:
    """A feed may list an id twice across pages: only its last state matters."""
    by_id: dict[str, Change] = {}
    for change in changes:
        by_id.pop(change_id(change), None)
        by_id[change_id(change)] = change
    return list(by_id.values())


def _in_apply_order(changes: Sequence[Change]) -> list[Change]:
    """Series masters and single events before exceptions, so an exception finds its series."""
    return sorted(
        _latest(changes),
        key=lambda c: isinstance(c, Fetched) and c.event.instance_of is not None,
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
    for event_id in sorted(linked - seen):
        fetched = await source.provider.get(source.address, event_id)
        if fetched is None or fetched.event.cancelled:
            changes.append(Removed(event_id))
    return changes


# --- planning


async def _links_for(
    policy: Policy, links: LinkRepository, side: Side, change: Change
) -> tuple[Link | None, Link | None]:
    link = await links.find(policy.pair_id, side, change_id(change))
    master: Link | None = None
    if isinstance(change, Fetched):
        stamp = change.stamp
        if link is None and stamp is not None and stamp.pair_id == policy.pair_id:
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


# --- applying


async def _apply(pair: PairContext, links: LinkRepository, action: Action) -> Outcome:
    pair_id = pair.policy.pair_id
    match action:
        case Skip():
            if action.link is not None:
                await links.save(pair_id, action.link)
            return action.outcome
        case Create():
            if action.event.instance_of is not None:
                return await _write_occurrence(pair, links, action)
            if action.stamp is not None and not action.link.deleted:
                # Intent first: if the write succeeds but we crash before recording it, the
                # link still names the source, so a later deletion of the source finds the
                # mirror by its stamp instead of leaving it orphaned.
                intent = await links.save(pair_id, action.link)
                action = dataclasses.replace(action, link=intent)
            written = await _write_mirror(pair, action.target, action.event, action.stamp)
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome
        case Update():
            target = pair.calendar(action.target)
            try:
                written = await target.provider.update(
                    target.address, action.target_id, action.event, action.stamp
                )
            except NotFound:
                if action.stamp is None:
                    return Outcome.SKIP_GONE  # the origin went away; its own pass carries that
                # The mirror vanished: write it again (find_mirror first, like any create).
                again = Create(action.target, action.event, action.stamp, action.link, action.conflict)
                outcome = await _apply(pair, links, again)
                return action.outcome if outcome is Outcome.CREATED else outcome
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome
        case Delete():
            return await _delete(pair, links, action)


async def _write_occurrence(pair: PairContext, links: LinkRepository, action: Create) -> Outcome:
    """An occurrence change lands on a series; a series that is gone (deleted, or about to be
    re-created later in this pass) sends the change back to wait for it."""
    target = pair.calendar(action.target)
    if action.event.cancelled and action.stamp is not None:
        # Cancelling an occurrence we had already changed: remove that changed occurrence.
        existing = await target.provider.find_mirror(target.address, action.stamp)
        if existing is not None and not existing.event.cancelled:
            with contextlib.suppress(NotFound):
                await target.provider.delete(target.address, existing.event.id)
            await links.save(pair.policy.pair_id, settle(action, existing, pair.policy))
            return Outcome.DELETED
    try:
        written = await _write_mirror(pair, action.target, action.event, action.stamp)
    except NotFound:
        return Outcome.SKIP_NO_MASTER
    await links.save(pair.policy.pair_id, settle(action, written, pair.policy))
    return action.outcome


async def _write_mirror(pair: PairContext, side: Side, event: Event, stamp: MirrorStamp | None) -> Fetched:
    """Create, unless an earlier attempt already did and crashed before recording its link."""
    target = pair.calendar(side)
    if stamp is not None:
        existing = await target.provider.find_mirror(target.address, stamp)
        if existing is not None and not existing.event.cancelled:
            detail = pair.policy.detail
            if fingerprint(existing.event, detail) == fingerprint(event, detail):
                return existing
            return await target.provider.update(target.address, existing.event.id, event, stamp)
    return await target.provider.create(target.address, event, stamp)


async def _delete(pair: PairContext, links: LinkRepository, action: Delete) -> Outcome:
    target = pair.calendar(action.target)
    target_id = action.target_id
    if target_id is None and action.stamp is not None:
        found = await target.provider.find_mirror(target.address, action.stamp)
        target_id = None if found is None or found.event.cancelled else found.event.id
    if target_id is not None:
        with contextlib.suppress(NotFound):  # already gone is what we wanted
            await target.provider.delete(target.address, target_id)
    if action.link is not None:
        await links.save(pair.policy.pair_id, action.link)
    return action.outcome if target_id is not None else Outcome.SKIP_GONE
