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

from calbridge.errors import NotFound
from calbridge.model import Event
from calbridge.pairs.policy import Side
from calbridge.providers.base import Fetched, MirrorStamp
from processor.sync.actions import Action, Create, Delete, Outcome, Skip, Update
from processor.sync.context import PairContext
from processor.sync.links import LinkRepository
from processor.sync.plan import settle
from processor.sync.projection import fingerprint
from processor.sync.record import Link

__all__ = ["apply_action"]


async def apply_action(
    pair: PairContext, links: LinkRepository, action: Action, *, adopt: bool = False
) -> Outcome:
    """Perform `action` and record its link. `adopt`: look for an existing mirror before any
    create (module docstring); otherwise only where an earlier attempt left a link."""
    pair_id = pair.policy.pair_id
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
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome if done is Outcome.CREATED else done
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
                outcome = await apply_action(pair, links, again)
                return action.outcome if outcome is Outcome.CREATED else outcome
            await links.save(pair_id, settle(action, written, pair.policy))
            return action.outcome
        case Delete():
            return await _delete(pair, links, action)


async def _write_occurrence(pair: PairContext, links: LinkRepository, action: Create) -> Outcome:
    """An occurrence change lands on a series; a series that is gone (deleted, or about to be
    re-created later in this pass) sends the change back to wait for it."""
    target = pair.calendar(action.target)
    series_id = action.event.instance_of.master_id if action.event.instance_of else None
    series = await _clean_mirror_series(pair, links, action.target, series_id)
    if action.event.cancelled and action.stamp is not None:
        # Cancelling an occurrence we had already changed: remove that changed occurrence.
        existing = await target.provider.find_mirror(target.address, action.stamp)
        if existing is not None and not existing.event.cancelled:
            with contextlib.suppress(NotFound):
                await target.provider.delete(target.address, existing.event.id)
            await links.save(pair.policy.pair_id, settle(action, existing, pair.policy))
            await _record_mirror_series(pair, links, action.target, series)
            return Outcome.DELETED
    try:
        written, _ = await _write_mirror(pair, action.target, action.event, action.stamp)
    except NotFound:
        return Outcome.SKIP_NO_MASTER
    await links.save(pair.policy.pair_id, settle(action, written, pair.policy))
    await _record_mirror_series(pair, links, action.target, series)
    return action.outcome


async def _clean_mirror_series(
    pair: PairContext, links: LinkRepository, side: Side, master_id: str | None
) -> Link | None:
    """The link of the mirror series an occurrence write is about to change, if that series reads
    as the link records it (no person's edit waiting to be carried over); else None."""
    if master_id is None:
        return None
    master_link = await links.find(pair.policy.pair_id, side, master_id)
    if master_link is None or master_link.deleted or master_link.origin is side:
        return None  # not a mirror series of this pair: a person's series is read like any change
    target = pair.calendar(side)
    series = await target.provider.get(target.address, master_id)
    if series is None:
        return None
    recorded = series.version == master_link.version_on(side)
    if not recorded and fingerprint(series.event, pair.policy.detail) != master_link.hash_on(side):
        return None  # re-versioned by the provider is fine; changed by a person is not
    return master_link


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
