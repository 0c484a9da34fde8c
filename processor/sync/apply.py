"""Applying one planned action through the provider Protocol, then recording its link.

Each write is idempotent: a create looks for its mirror by stamp first (and records an intent
link before writing), an update of a vanished mirror writes it again, a delete of something
already gone is done.

*Adopting*: during a full read (a pair's baseline, an operator's resync, an expired cursor) every
create looks for a mirror by stamp first, even for a source event without any link: the pair
may have been removed and added again, or the store restored from an older backup, and the
mirror may already be there, stamped by an earlier pair of the same two calendars. A mirror
found with the content wanted is adopted: its link is recorded and nothing is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, date, datetime, time

import structlog

from calbridge.errors import NotFound
from calbridge.model import AllDay, Event, EventStatus, InstanceOf, OnlineMeeting, Span, Timed
from calbridge.pairs.policy import Side
from calbridge.providers.base import Fetched, MirrorStamp
from calbridge.translate.recurrence import excluded_starts
from processor.sync.actions import Action, Create, Delete, MeetingRequest, Outcome, Skip, Update
from processor.sync.context import PairContext
from processor.sync.links import LinkRepository
from processor.sync.plan import settle
from processor.sync.projection import exclusion_line, fingerprint, is_exclusion
from processor.sync.record import Link

__all__ = ["apply_action"]

log = structlog.get_logger("calbridge.processor")


async def apply_action(
    pair: PairContext, links: LinkRepository, action: Action, *, adopt: bool = False
) -> Outcome:
    """Perform `action` and record its link. `adopt`: look for an existing mirror before any
    create (module docstring); otherwise only where an earlier attempt left a link."""
    pair_id = pair.policy.pair_id
    if isinstance(action, Create | Update) and action.meeting is not None:
        return await _apply_with_meeting(pair, links, action, action.meeting, adopt=adopt)
    match action:
        case Skip():
            if action.link is not None:
                await links.save(pair_id, action.link)
            return action.outcome
        case Create():
            if action.event.instance_of is not None:
                return await _write_occurrence(pair, links, action)
            # Every attempt records its intent link before writing, so a source event without
            # any link was never attempted: outside a full read the search for an earlier mirror
            # is skipped (one provider call less per new event).
            attempted = adopt or await _has_link(pair, links, action)
            if action.stamp is not None and not action.link.deleted:
                # Intent first: if the write succeeds but we crash before recording it, the
                # link still names the source, so a later deletion of the source finds the
                # mirror by its stamp instead of leaving it orphaned.
                intent = await links.save(pair_id, action.link)
                action = dataclasses.replace(action, link=intent)
            written, done = await _write_mirror(
                pair, action.target, action.event, action.stamp, search=attempted
            )
            if done is not Outcome.ADOPTED:
                written = await _cancel_excluded(pair, action.target, written, action.event, action.stamp)
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome if done is Outcome.CREATED else done
        case Update():
            target = pair.calendar(action.target)
            await _expect_update(pair, links, action)
            try:
                written = await target.provider.update(
                    target.address, action.target_id, action.event, action.stamp
                )
            except NotFound:
                if action.stamp is None:
                    return Outcome.SKIP_GONE  # the origin went away; its own pass carries that
                # The mirror vanished: write it again (find_mirror first, like any create).
                again = Create(action.target, action.event, action.stamp, action.link, action.conflict)
                outcome = await apply_action(pair, links, again)
                return action.outcome if outcome is Outcome.CREATED else outcome
            written = await _cancel_excluded(pair, action.target, written, action.event, action.stamp)
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome
        case Delete():
            return await _delete(pair, links, action)


async def _expect_update(pair: PairContext, links: LinkRepository, action: Update) -> None:
    """Before writing, record the content the target will hold (its version stays the one
    recorded). The other side's pass may read this write before this pass records it (this pass
    failing after the write and waiting for its retry): that read is then our own echo, not a
    person's edit of the copy to be carried back, or to win a conflict against a newer edit."""
    stored = await links.find(pair.policy.pair_id, action.target, action.target_id)
    if stored is None or stored.deleted:
        return
    expected = fingerprint(await _as_written(pair, action), pair.policy.detail)
    if expected != stored.hash_on(action.target):
        await links.save(pair.policy.pair_id, stored.expecting(action.target, expected))


async def _as_written(pair: PairContext, action: Update) -> Event:
    """The content an update will leave. A Microsoft series keeps its deleted occurrences
    through an edit, and Exchange reads them back as the series' EXDATE lines: those already on
    the target are part of what the write leaves (one read, for series edits only)."""
    event = action.event
    if event.recurrence is None or event.instance_of is not None or action.target is Side.GOOGLE:
        return event
    target = pair.calendar(action.target)
    current = await target.provider.get(target.address, action.target_id)
    if current is None or current.event.recurrence is None:
        return event
    kept = [line for line in current.event.recurrence.rules if is_exclusion(line)]
    if not kept:
        return event
    rules = (*event.recurrence.rules, *kept)  # the fingerprint spells and orders exclusions one way
    return dataclasses.replace(event, recurrence=dataclasses.replace(event.recurrence, rules=rules))


async def _apply_with_meeting(
    pair: PairContext, links: LinkRepository, action: Create | Update, request: MeetingRequest, *, adopt: bool
) -> Outcome:
    """A keyword asked for a meeting (`MeetingRequest`): make it on the host's side, then give
    the link to the other copy. The origin is written with sendUpdates=none / SendToNone, or has
    no attendees (the planner checked), so nobody is mailed; its new version is recorded in the
    link, so the echo of that write is skipped and the keyword, now gone, asks for nothing more."""
    origin = pair.calendar(request.origin)
    policy = pair.policy
    plain = dataclasses.replace(action, meeting=None)
    if request.host is request.origin:
        made = await origin.provider.update(origin.address, request.origin_id, request.event, None)
        meeting = made.event.online_meeting
        log.info("meeting_link.made", pair=policy.pair_id, side=request.origin.value, made=_made(meeting))
        link = action.link.with_side(
            request.origin, made.event.id, made.version, fingerprint(made.event, policy.detail)
        )
        event = dataclasses.replace(action.event, online_meeting=meeting if _made(meeting) else None)
        return await apply_action(
            pair, links, dataclasses.replace(plain, event=event, link=link), adopt=adopt
        )
    target = pair.calendar(action.target)
    mirror = None
    if isinstance(action, Update):  # a retry: the mirror may hold the meeting already
        mirror = await target.provider.get(target.address, action.target_id)
    if mirror is not None and _made(mirror.event.online_meeting):
        outcome = Outcome.SKIP_UNCHANGED
    else:
        # The origin's side is recorded as not yet seen until its write back succeeds, so a pass
        # that fails in between plans this request again (and finds the meeting made, above).
        pending = action.link.with_side(request.origin, request.origin_id, None, None)
        outcome = await apply_action(pair, links, dataclasses.replace(plain, link=pending), adopt=adopt)
        recorded_first = await links.find(policy.pair_id, request.origin, request.origin_id)
        mirror_id = recorded_first.id_on(action.target) if recorded_first is not None else None
        mirror = await target.provider.get(target.address, mirror_id) if mirror_id is not None else None
    recorded = await links.find(policy.pair_id, request.origin, request.origin_id)
    if recorded is not None and mirror is not None:
        recorded = recorded.with_side(
            action.target, mirror.event.id, mirror.version, fingerprint(mirror.event, policy.detail)
        )
    meeting = mirror.event.online_meeting if mirror is not None else None
    log.info("meeting_link.made", pair=policy.pair_id, side=action.target.value, made=_made(meeting))
    if recorded is None or not _made(meeting):
        return outcome
    event = dataclasses.replace(request.event, online_meeting=meeting)
    written = await origin.provider.update(origin.address, request.origin_id, event, None)
    await links.save(
        policy.pair_id,
        recorded.with_side(
            request.origin, written.event.id, written.version, fingerprint(written.event, policy.detail)
        ),
    )
    return outcome


def _made(meeting: OnlineMeeting | None) -> bool:
    return meeting is not None and not meeting.requested


async def _write_occurrence(pair: PairContext, links: LinkRepository, action: Create) -> Outcome:
    """An occurrence change lands on a series; a series that is gone (deleted, or about to be
    re-created later in this pass) sends the change back to wait for it."""
    target = pair.calendar(action.target)
    instance = action.event.instance_of
    assert instance is not None
    cancelled = instance.original_start if action.event.cancelled else None
    clean = await _clean_mirror_series(pair, links, action.target, instance.master_id, cancelled)
    series = clean[0] if clean is not None else None
    if clean is not None and cancelled is not None:
        series = await _expect_cancellation(pair, links, action.target, *clean, cancelled)
    # The series is recorded before the occurrence's link: a pass failing in between replays
    # this write, and the replay finds the series as recorded (or as this very write left it).
    if action.event.cancelled and action.stamp is not None:
        # Cancelling an occurrence we had already changed: remove that changed occurrence.
        existing = await target.provider.find_mirror(target.address, action.stamp)
        if existing is not None and not existing.event.cancelled:
            with contextlib.suppress(NotFound):
                await target.provider.delete(target.address, existing.event.id)
            await _record_mirror_series(pair, links, action.target, series)
            await links.save(pair.policy.pair_id, settle(action, existing, pair.policy))
            return Outcome.DELETED
    try:
        written, _ = await _write_mirror(pair, action.target, action.event, action.stamp)
    except NotFound:
        return Outcome.SKIP_NO_MASTER
    await _record_mirror_series(pair, links, action.target, series)
    await links.save(pair.policy.pair_id, settle(action, written, pair.policy))
    return action.outcome


async def _cancel_excluded(
    pair: PairContext, side: Side, written: Fetched, event: Event, stamp: MirrorStamp | None
) -> Fetched:
    """Cancel, on the series just written, the occurrences its EXDATE lines skip: a Microsoft
    series has no excluded dates, only deleted occurrences (each a write of a cancelled
    occurrence; one already gone is what was wanted). Returns the series as it reads after
    them: each cancellation gives the series a new version, which the link must record, or
    the series' next read would pass for a person's edit of the mirror."""
    if event.recurrence is None or event.instance_of is not None or side is Side.GOOGLE:
        return written  # (Google keeps EXDATE lines in the series itself)
    zone = event.span.zone if isinstance(event.span, Timed) else "UTC"
    excluded = excluded_starts(event.recurrence.rules, zone)
    if not excluded:
        return written
    series_id = written.event.id
    target = pair.calendar(side)
    for original in excluded:
        gone = Event(
            id="",
            span=_span_at(event.span, original),
            status=EventStatus.CANCELLED,
            instance_of=InstanceOf(series_id, original),
        )
        with contextlib.suppress(NotFound):
            await target.provider.create(target.address, gone, stamp)
    return await target.provider.get(target.address, series_id) or written


def _span_at(span: Span, start: datetime | date) -> Span:
    if isinstance(span, AllDay):
        day = start.date() if isinstance(start, datetime) else start
        return AllDay(day, day + (span.end - span.start))
    moment = start if isinstance(start, datetime) else datetime.combine(start, time(), UTC)
    return Timed(moment, moment + (span.end - span.start), span.zone)


async def _clean_mirror_series(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    master_id: str,
    cancelled: datetime | date | None = None,
) -> tuple[Link, Event] | None:
    """The link of the mirror series an occurrence write is about to change, if that series reads
    as the link records it (no person's edit waiting to be carried over); else None.

    `cancelled`: the original start of the occurrence this write cancels. A series that reads as
    recorded but for that one excluded date is clean too: it is this same cancellation, made by
    an earlier attempt whose pass failed before the series was recorded (a replay)."""
    master_link = await links.find(pair.policy.pair_id, side, master_id)
    if master_link is None or master_link.deleted or master_link.origin is side:
        return None  # not a mirror series of this pair: a person's series is read like any change
    target = pair.calendar(side)
    series = await target.provider.get(target.address, master_id)
    if series is None:
        return None
    detail, digest = pair.policy.detail, master_link.hash_on(side)
    if master_link.knows(side, series.version, fingerprint(series.event, detail)):
        return master_link, series.event  # re-versioned by the provider is fine; by a person not
    if cancelled is not None and fingerprint(_without_exclusion(series.event, cancelled), detail) == digest:
        return master_link, series.event  # our own cancellation landed already: a replay
    return None


async def _expect_cancellation(
    pair: PairContext,
    links: LinkRepository,
    side: Side,
    master_link: Link,
    series: Event,
    original: datetime | date,
) -> Link:
    """Before cancelling an occurrence of a clean mirror series, record the content the series
    will have once it excludes that date (its version stays the one read). A pass of the mirror's
    side may read the series after the cancellation but before this pass records it (this pass
    failing and waiting for its retry): that read is then our own echo, not a person's edit."""
    master_id = master_link.id_on(side)
    if master_id is None or series.recurrence is None:
        return master_link
    rules = (*series.recurrence.rules, exclusion_line(original))
    expected = dataclasses.replace(series, recurrence=dataclasses.replace(series.recurrence, rules=rules))
    digest = fingerprint(expected, pair.policy.detail)
    if digest == master_link.hash_on(side):
        return master_link
    return await links.save(pair.policy.pair_id, master_link.expecting(side, digest))


def _without_exclusion(event: Event, original: datetime | date) -> Event:
    """`event` without the EXDATE line that excludes exactly `original`."""
    if event.recurrence is None:
        return event
    zone = event.span.zone if isinstance(event.span, Timed) else "UTC"
    kept = tuple(line for line in event.recurrence.rules if excluded_starts((line,), zone) != (original,))
    return dataclasses.replace(event, recurrence=dataclasses.replace(event.recurrence, rules=kept))


async def _record_mirror_series(
    pair: PairContext, links: LinkRepository, side: Side, master_link: Link | None
) -> None:
    """Writing an occurrence changes its series where occurrences live on the series (Exchange,
    Outlook: a new change key, a cancelled occurrence as an EXDATE). The series read as recorded
    just before the write, so what changed since is our write: record the series as it reads
    now, so that change comes back as our own echo rather than as a person's edit of the mirror
    (which would be copied onto the person's series: a write back to the origin)."""
    if master_link is None:
        return
    master_id = master_link.id_on(side)
    assert master_id is not None
    target = pair.calendar(side)
    series = await target.provider.get(target.address, master_id)
    if series is None or series.event.cancelled or series.version == master_link.version_on(side):
        return
    digest = fingerprint(series.event, pair.policy.detail)
    await links.save(pair.policy.pair_id, master_link.with_side(side, master_id, series.version, digest))


async def _has_link(pair: PairContext, links: LinkRepository, action: Create) -> bool:
    source = action.target.other
    source_id = action.link.google_id if source is Side.GOOGLE else action.link.microsoft_id
    if source_id is None:
        return True  # cannot tell: search
    return await links.find(pair.policy.pair_id, source, source_id) is not None


async def _write_mirror(
    pair: PairContext, side: Side, event: Event, stamp: MirrorStamp | None, *, search: bool = True
) -> tuple[Fetched, Outcome]:
    """Create, unless a mirror with this stamp is there already (an earlier attempt that crashed
    before recording its link, or an earlier pair of the same calendars): then bring it up to
    date (UPDATED), or adopt it as it is (ADOPTED, nothing written)."""
    target = pair.calendar(side)
    if stamp is not None and search:
        existing = await target.provider.find_mirror(target.address, stamp)
        if existing is not None and not existing.event.cancelled:
            detail = pair.policy.detail
            if fingerprint(existing.event, detail) == fingerprint(event, detail):
                return existing, Outcome.ADOPTED
            updated = await target.provider.update(target.address, existing.event.id, event, stamp)
            return updated, Outcome.UPDATED
    return await target.provider.create(target.address, event, stamp), Outcome.CREATED


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
