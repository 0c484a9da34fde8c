"""The planner: one change seen on one side of a pair -> one action and the link to record.

Pure: no I/O, no clock, no randomness. The engine reads the change, the link and (when asked
through `ReadCounterpart`) the other copy, calls `plan`, and applies what comes back. The rules
and the user complaints each one prevents are in docs/sync-rules.md.

Vocabulary: the *origin* is the copy a person made; the *mirror* is the copy calbridge made, and
carries our `MirrorStamp`. In a two-way full pair the two copies are *peers*: an edit or a
deletion of either one is carried to the other. Otherwise the origin owns the event and an edit
or deletion of its mirror is undone from the origin.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from enum import Enum

from calbridge.model import NOT_MIRRORED, WORKING_LOCATION, Event, OnlineMeeting
from calbridge.pairs.policy import ConflictPolicy, Detail, Policy, Side
from calbridge.providers.base import Change, Fetched, MirrorStamp, Removed
from calbridge.translate.meetings import requested_provider, without_keyword
from processor.sync.actions import (
    Create,
    Delete,
    MeetingRequest,
    Outcome,
    Plan,
    ReadCounterpart,
    Resolution,
    Seen,
    Skip,
    Update,
)
from processor.sync.projection import fingerprint, project, wants_mirror
from processor.sync.record import Link

__all__ = ["change_id", "is_removal", "meeting_request", "owns", "plan", "settle", "stamp_for"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Role(Enum):
    ORIGIN = "origin"  # a person's event on this side
    MIRROR = "mirror"  # our linked mirror on this side
    MIRROR_OCCURRENCE = "mirror_occurrence"  # an exception of a mirror series, not yet linked
    UNLINKED_MIRROR = "unlinked_mirror"  # our stamp, no link yet: the origin's pass adopts it
    DUPLICATE_MIRROR = "duplicate_mirror"  # our stamp, but the link names another mirror
    FOREIGN_MIRROR = "foreign_mirror"  # the stamp of a pair of other calendars


def stamp_for(policy: Policy, source_id: str) -> MirrorStamp:
    """The stamp this pair writes on the mirror of `source_id`."""
    return MirrorStamp(policy.pair_id, source_id, policy.pairing)


def owns(policy: Policy, stamp: MirrorStamp | None) -> bool:
    """Whether a mirror carrying `stamp` is this pair's: written by it, or by an earlier pair of
    the same two calendars (the same pairing key; a pair removed and added again)."""
    return stamp is not None and stamp_for(policy, stamp.source_id).matches(stamp)


def change_id(change: Change) -> str:
    return change.id if isinstance(change, Removed) else change.event.id


def is_removal(change: Change) -> bool:
    """Graph `@removed`, a Google tombstone, and a cancelled Google event are all deletions."""
    return isinstance(change, Removed) or change.event.cancelled


def plan(
    policy: Policy,
    side: Side,
    change: Change,
    link: Link | None,
    *,
    master_link: Link | None = None,
    counterpart: Seen | None = None,
) -> Plan:
    """Decide what to do with `change`, seen on `side`.

    `link` is the link whose id on `side` is the change's id or, for an event carrying our stamp,
    the link of the stamp's source. `master_link` is the series' link when the change is an
    exception. `counterpart` is given only after the planner asked for it.
    """
    role = _role(policy, side, change, link, master_link)
    if is_removal(change):
        decided = _plan_removal(policy, side, change, link, master_link, counterpart, role)
    else:
        assert isinstance(change, Fetched)
        decided = _plan_present(policy, side, change, link, master_link, counterpart, role)
    return _guard_direction(policy, decided)


def settle(action: Create | Update, written: Fetched, policy: Policy) -> Link:
    """The link to commit after `action` wrote `written` on its target side."""
    return action.link.with_side(
        action.target, written.event.id, written.version, fingerprint(written.event, policy.detail)
    )


# --- roles


def _role(policy: Policy, side: Side, change: Change, link: Link | None, master_link: Link | None) -> _Role:
    if link is not None and link.id_on(side) == change_id(change):
        return _Role.ORIGIN if link.origin is side else _Role.MIRROR
    fetched = change if isinstance(change, Fetched) else None
    stamp = fetched.stamp if fetched is not None else None
    if fetched is not None and fetched.event.instance_of is not None and _live(master_link):
        assert master_link is not None
        # An occurrence may inherit its series' stamp; our stamp naming another source means
        # we wrote this occurrence ourselves (handled below as our mirror).
        series_source = master_link.id_on(master_link.origin)
        if stamp is None or not owns(policy, stamp) or stamp.source_id == series_source:
            return _Role.ORIGIN if master_link.origin is side else _Role.MIRROR_OCCURRENCE
    if stamp is not None and not owns(policy, stamp):
        return _Role.FOREIGN_MIRROR
    if stamp is not None:
        unlinked = link is None or link.id_on(side) is None
        return _Role.UNLINKED_MIRROR if unlinked else _Role.DUPLICATE_MIRROR
    return _Role.ORIGIN


def _live(link: Link | None) -> bool:
    return link is not None and not link.deleted


def _peers_for(policy: Policy, origin_side: Side, origin: Event) -> bool:
    """Whether this origin and its mirror are peers: a peers pair, and an origin the sync may
    write (not a meeting with attendees where every write mails them, rule 23)."""
    return policy.peers and policy.may_write_origin(origin_side, bool(origin.attendees))


def _mirror_stamp(policy: Policy, link: Link, target: Side) -> MirrorStamp | None:
    """Mirrors carry our stamp naming their origin; the origin itself is never stamped."""
    if link.origin is target:
        return None
    source_id = link.id_on(link.origin)
    assert source_id is not None
    return stamp_for(policy, source_id)


def _map_instance(event: Event, master_link: Link | None, target: Side) -> Event | None:
    """An exception is written onto the mirror series' corresponding occurrence: same original
    start, the mirror master's id. None when the series has no mirror to attach it to."""
    if event.instance_of is None:
        return event
    if not _live(master_link):
        return None
    assert master_link is not None
    master_id = master_link.id_on(target)
    if master_id is None:
        return None
    return dataclasses.replace(event, instance_of=dataclasses.replace(event.instance_of, master_id=master_id))


def _guard_direction(policy: Policy, action: Plan) -> Plan:
    """Nothing is ever written onto a side the pair does not sync into."""
    if isinstance(action, Create | Update | Delete) and not policy.flows_into(action.target):
        return Skip(Outcome.SKIP_DIRECTION, f"the pair does not write into {action.target}")
    return action


# --- an event that exists on `side`


def _plan_present(
    policy: Policy,
    side: Side,
    fetched: Fetched,
    link: Link | None,
    master_link: Link | None,
    counterpart: Seen | None,
    role: _Role,
) -> Plan:
    match role:
        case _Role.FOREIGN_MIRROR:
            return Skip(Outcome.SKIP_FOREIGN_MIRROR, "another pair's mirror is never mirrored")
        case _Role.UNLINKED_MIRROR:
            return _plan_unlinked_mirror(policy, side, fetched, counterpart)
        case _Role.DUPLICATE_MIRROR:
            return Skip(Outcome.SKIP_DUPLICATE_MIRROR, "carries our stamp but is not the linked mirror")
        case _Role.MIRROR_OCCURRENCE:
            return _plan_mirror_occurrence(policy, side, fetched, master_link)
        case _Role.MIRROR:
            assert link is not None
            return _plan_mirror_edit(policy, side, fetched, link, master_link, counterpart)
        case _Role.ORIGIN:
            return _plan_origin(policy, side, fetched, link, master_link, counterpart)


def _plan_unlinked_mirror(policy: Policy, side: Side, fetched: Fetched, counterpart: Seen | None) -> Plan:
    """Our mirror with no link: a create that crashed before recording it. While its origin
    lives, the origin's pass adopts it (`find_mirror`); once the origin is gone it is an orphan."""
    assert fetched.stamp is not None
    if counterpart is None:
        return ReadCounterpart(side.other, fetched.stamp.source_id)
    origin = counterpart.fetched
    if origin is None or not wants_mirror(origin.event, policy.detail):
        return Delete(side, fetched.event.id, None, None)
    return Skip(Outcome.SKIP_ECHO, "our mirror without a link; its origin's pass adopts it")


def _plan_origin(
    policy: Policy,
    side: Side,
    fetched: Fetched,
    link: Link | None,
    master_link: Link | None,
    counterpart: Seen | None,
) -> Plan:
    other = side.other
    if not policy.flows_from(side):
        return Skip(Outcome.SKIP_DIRECTION, f"the pair does not sync from {side}")
    not_mirrored = fetched.event.extra.get(NOT_MIRRORED)
    if not_mirrored is None and not (policy.working_locations and policy.detail is Detail.FULL):
        not_mirrored = fetched.event.extra.get(WORKING_LOCATION)
    if not_mirrored is not None:
        return Skip(Outcome.SKIP_EVENT_TYPE, not_mirrored)
    digest = fingerprint(fetched.event, policy.detail)
    wanted = wants_mirror(fetched.event, policy.detail)
    if link is None or link.deleted or link.id_on(other) is None:
        if not wanted:
            return Skip(Outcome.SKIP_FILTERED, "the detail level shows nothing for this event")
        return _create_mirror(policy, side, fetched, master_link, digest)

    seen_link = link.with_side(side, fetched.event.id, fetched.version, digest)
    if link.knows(side, fetched.version, digest):
        return Skip(Outcome.SKIP_UNCHANGED, "nothing the mirror shows has changed", seen_link)
    target_id = link.id_on(other)
    assert target_id is not None
    if not wanted:
        return Delete(other, target_id, None, seen_link.as_deleted())
    if _peers_for(policy, side, fetched.event):
        if counterpart is None:
            return ReadCounterpart(other, target_id)
        copy = counterpart.fetched
        if copy is None or copy.event.cancelled:
            # The copy was deleted while this one was edited: the deletion wins (deleted events
            # must not come back); the copy's own pass would decide the same.
            return Delete(side, fetched.event.id, None, seen_link.as_deleted())
        if fingerprint(copy.event, policy.detail) == digest:
            return _agreed(policy, seen_link, copy, other)
        if _changed_since(copy, link, other, policy):
            return _resolve(policy, side, fetched, copy, seen_link, master_link, link)
    request = meeting_request(policy, side, fetched.event)
    content = request.event if request is not None else fetched.event
    mapped = _map_instance(project(content, policy.detail), master_link, other)
    if mapped is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no mirror")
    return Update(other, target_id, mapped, _mirror_stamp(policy, link, other), seen_link, meeting=request)


def _create_mirror(
    policy: Policy, side: Side, fetched: Fetched, master_link: Link | None, digest: str
) -> Plan:
    request = meeting_request(policy, side, fetched.event)
    content = request.event if request is not None else fetched.event
    mapped = _map_instance(project(content, policy.detail), master_link, side.other)
    if mapped is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no mirror")
    new_link = Link(origin=side).with_side(side, fetched.event.id, fetched.version, digest)
    return Create(side.other, mapped, stamp_for(policy, fetched.event.id), new_link, meeting=request)


def meeting_request(policy: Policy, side: Side, event: Event) -> MeetingRequest | None:
    """The meeting a keyword in this origin's location asks for, if the pair makes meetings, the
    event has none yet, a provider of the pair can make it, and the origin can then be written
    with its link without mailing anyone (it has no attendees, or its provider updates silently).
    The mirror of the request's event shows the link once it exists, never the keyword."""
    links = policy.meeting_links
    if links is None or policy.detail is not Detail.FULL or event.instance_of is not None:
        return None
    if event.online_meeting is not None or event.cancelled:
        return None
    wanted = requested_provider(event.location, dict(links.keywords))
    host = links.host_of(wanted) if wanted is not None else None
    if wanted is None or host is None or not policy.flows_into(side.other):
        return None
    if event.attendees and side not in links.silent:
        return None  # writing the link back would mail the attendees an update
    if not links.organises(side, event.organizer.address if event.organizer is not None else None):
        return None  # a guest's copy of someone else's meeting
    asked = dataclasses.replace(
        event,
        location=without_keyword(event.location, dict(links.keywords)),
        online_meeting=OnlineMeeting(wanted, ""),
    )
    return MeetingRequest(host, side, event.id, asked)


def _plan_mirror_edit(
    policy: Policy,
    side: Side,
    fetched: Fetched,
    link: Link,
    master_link: Link | None,
    counterpart: Seen | None,
) -> Plan:
    """A read of our mirror: an echo of our write, or a person's edit of the copy."""
    other = side.other
    digest = fingerprint(fetched.event, policy.detail)
    seen_link = link.with_side(side, fetched.event.id, fetched.version, digest)
    if link.deleted:
        return Skip(Outcome.SKIP_ECHO, "a mirror we already retired")
    if link.knows(side, fetched.version, digest):
        return Skip(Outcome.SKIP_ECHO, "our own write read back", seen_link)
    origin_id = link.id_on(other)
    assert origin_id is not None
    if counterpart is None:
        return ReadCounterpart(other, origin_id)
    origin = counterpart.fetched
    if origin is None or origin.event.cancelled or not wants_mirror(origin.event, policy.detail):
        return Delete(side, fetched.event.id, None, seen_link.as_deleted())
    if not _peers_for(policy, other, origin.event):
        # The origin owns the event (or writing it would mail its attendees): undo the edit of its copy.
        restored = _map_instance(project(origin.event, policy.detail), master_link, side)
        if restored is None:
            return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no mirror")
        origin_link = link.with_side(
            other, origin.event.id, origin.version, fingerprint(origin.event, policy.detail)
        )
        return Update(side, fetched.event.id, restored, _mirror_stamp(policy, link, side), origin_link)
    if fingerprint(origin.event, policy.detail) == digest:
        return _agreed(policy, seen_link, origin, other)
    if _changed_since(origin, link, other, policy):
        return _resolve(policy, side, fetched, origin, seen_link, master_link, link)
    edited = _map_instance(fetched.event, master_link, other)
    if edited is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no origin")
    return Update(other, origin_id, edited, _mirror_stamp(policy, link, other), seen_link)


def _plan_mirror_occurrence(policy: Policy, side: Side, fetched: Fetched, master_link: Link | None) -> Plan:
    """A person changed one occurrence of a mirror series."""
    if not policy.peers:
        return Skip(Outcome.SKIP_MIRROR_EDIT, "occurrence edits of a one-way or busy mirror are not carried")
    if not policy.may_write_origin(side.other, bool(fetched.event.attendees)):
        # The mirror series lists its origin's attendees (facts): a meeting every write mails.
        return Skip(Outcome.SKIP_MIRROR_EDIT, "writing the meeting's occurrence would mail its attendees")
    mapped = _map_instance(fetched.event, master_link, side.other)
    if mapped is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no origin")
    digest = fingerprint(fetched.event, policy.detail)
    new_link = Link(origin=side.other).with_side(side, fetched.event.id, fetched.version, digest)
    return Create(side.other, mapped, None, new_link)


# --- conflicts


def _agreed(policy: Policy, seen_link: Link, copy: Fetched, other: Side) -> Skip:
    """Both copies already hold the same content (a write whose link was lost, or the same
    edit made twice): record both, write nothing."""
    link = seen_link.with_side(other, copy.event.id, copy.version, fingerprint(copy.event, policy.detail))
    return Skip(Outcome.SKIP_UNCHANGED, "both copies already agree", link)


def _changed_since(copy: Fetched, link: Link, side: Side, policy: Policy) -> bool:
    return not link.knows(side, copy.version, fingerprint(copy.event, policy.detail))


def _winner(policy: Policy, side: Side, mine: Fetched, theirs: Fetched, origin: Side) -> tuple[Side, str]:
    match policy.conflict:
        case ConflictPolicy.GOOGLE:
            return Side.GOOGLE, "policy: google wins"
        case ConflictPolicy.MICROSOFT:
            return Side.MICROSOFT, "policy: microsoft wins"
        case ConflictPolicy.NEWEST:
            order = _later(mine, theirs)
            if order > 0:
                return side, "newest: this copy was edited later"
            if order < 0:
                return side.other, "newest: the other copy was edited later"
            # A true tie (or a missing time): the same answer whichever side's pass decides.
            return origin, "newest: a tie at the providers' precision; the origin's copy wins"


def _later(mine: Fetched, theirs: Fetched) -> int:
    """1 when `mine` was edited later, -1 when `theirs` was, 0 when the times cannot tell.

    Each provider gives `updated` at its own precision (Google milliseconds, Graph 100 ns, EWS
    seconds); both times are cut to the coarser one, so a Graph edit 0.4 ms after a Google one
    is a tie, not a win, while one made 0.1 s later wins."""
    if mine.updated is None or theirs.updated is None:
        return 0
    tick = max(mine.updated_precision, theirs.updated_precision, _MICROSECOND)
    a, b = (mine.updated - _EPOCH) // tick, (theirs.updated - _EPOCH) // tick
    return (a > b) - (a < b)


def _resolve(
    policy: Policy,
    side: Side,
    fetched: Fetched,
    copy: Fetched,
    seen_link: Link,
    master_link: Link | None,
    recorded: Link,
) -> Plan:
    """Both copies changed since the link (`recorded`) was: the policy picks one, the other is
    overwritten with it, and the decision travels with the action to be logged and counted."""
    other = side.other
    winner, reason = _winner(policy, side, fetched, copy, seen_link.origin)
    if winner is side:
        target, content, target_id, link = other, fetched.event, copy.event.id, seen_link
    else:
        link = seen_link.with_side(other, copy.event.id, copy.version, fingerprint(copy.event, policy.detail))
        target, content, target_id = side, copy.event, fetched.event.id
    mapped = _map_instance(content, master_link, target)
    if mapped is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no mirror")
    evidence = f"{_evidence(policy, side, fetched, recorded)}; {_evidence(policy, other, copy, recorded)}"
    return Update(
        target,
        target_id,
        mapped,
        _mirror_stamp(policy, link, target),
        link,
        conflict=Resolution(winner, reason, evidence),
    )


def _evidence(policy: Policy, side: Side, read: Fetched, link: Link) -> str:
    """One side of a conflict as the log shows it: its id, the version and hash the link
    recorded, and those read (hash prefixes, never content)."""
    return (
        f"{side.value} {read.event.id} recorded {link.version_on(side)} {(link.hash_on(side) or '-')[:8]},"
        f" read {read.version} {fingerprint(read.event, policy.detail)[:8]} edited {read.updated}"
    )


# --- deletions


def _plan_removal(
    policy: Policy,
    side: Side,
    change: Change,
    link: Link | None,
    master_link: Link | None,
    counterpart: Seen | None,
    role: _Role,
) -> Plan:
    other = side.other
    removed_id = change_id(change)
    match role:
        case _Role.FOREIGN_MIRROR:
            return Skip(Outcome.SKIP_FOREIGN_MIRROR, "another pair's mirror is never mirrored")
        case _Role.UNLINKED_MIRROR | _Role.DUPLICATE_MIRROR:
            return Skip(Outcome.SKIP_ECHO, "a cancelled copy of ours that no link names")
        case _Role.MIRROR_OCCURRENCE:
            assert isinstance(change, Fetched)
            cancelled = _plan_mirror_occurrence(policy, side, change, master_link)
            if isinstance(cancelled, Create):  # like an origin's: nothing of it is left to sync
                return dataclasses.replace(cancelled, link=cancelled.link.as_deleted())
            return cancelled
        case _Role.ORIGIN if link is None or link.id_on(side) != removed_id:
            if isinstance(change, Fetched) and change.event.instance_of is not None:
                # A cancelled occurrence of an origin series: cancel the mirror's occurrence.
                if not policy.flows_from(side):
                    return Skip(Outcome.SKIP_DIRECTION, f"the pair does not sync from {side}")
                digest = fingerprint(change.event, policy.detail)
                created = _create_mirror(policy, side, change, master_link, digest)
                if isinstance(created, Create):  # the occurrence's link is born a tombstone
                    return dataclasses.replace(created, link=created.link.as_deleted())
                return created
            if not policy.flows_from(side):
                return Skip(Outcome.SKIP_DIRECTION, f"the pair does not sync from {side}")
            # No link: a create may have crashed before its link; find its mirror by our stamp.
            return Delete(other, None, stamp_for(policy, removed_id), None)
        case _:
            pass
    assert link is not None
    if link.deleted:
        return Skip(Outcome.SKIP_ECHO, "already deleted on both sides")
    target_id = link.id_on(other)
    if role is _Role.ORIGIN:
        if not policy.flows_from(side):
            return Skip(Outcome.SKIP_DIRECTION, f"the pair does not sync from {side}")
        # No target id: the create was intended but not confirmed; find its mirror by stamp.
        stamp = stamp_for(policy, removed_id) if target_id is None else None
        return Delete(other, target_id, stamp, link.as_deleted())
    assert target_id is not None
    # A person deleted our mirror.
    if policy.peers and other not in policy.mailing_sides:
        return Delete(other, target_id, None, link.as_deleted())
    if counterpart is None:
        return ReadCounterpart(other, target_id)
    origin = counterpart.fetched
    if origin is None or origin.event.cancelled or not wants_mirror(origin.event, policy.detail):
        return Skip(Outcome.SKIP_GONE, "the origin is gone too", link.as_deleted())
    if _peers_for(policy, other, origin.event):
        return Delete(other, target_id, None, link.as_deleted())
    # One-way or busy (or a meeting a delete would cancel for its attendees): the origin owns
    # the event, so its copy comes back.
    origin_link = Link(origin=other).with_side(
        other, origin.event.id, origin.version, fingerprint(origin.event, policy.detail)
    )
    origin_link = dataclasses.replace(origin_link, row_id=link.row_id)
    restored = _map_instance(project(origin.event, policy.detail), master_link, side)
    if restored is None:
        return Skip(Outcome.SKIP_NO_MASTER, "the series of this exception has no mirror")
    return Create(side, restored, stamp_for(policy, origin.event.id), origin_link)
