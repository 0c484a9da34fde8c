"""What the planner decides for one change: a write on one side, a skip, or a read it needs first.

Every action carries the link to commit once it succeeded. For writes the engine completes that
link with what the provider returned (`settle`), so the next read of our own write is an echo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from calbridge.model import Event
from calbridge.pairs.policy import Side
from calbridge.providers.base import Fetched, MirrorStamp
from processor.sync.record import Link

__all__ = [
    "Action",
    "Create",
    "Delete",
    "MeetingRequest",
    "Outcome",
    "Plan",
    "ReadCounterpart",
    "Resolution",
    "Seen",
    "Skip",
    "Update",
]


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    ADOPTED = "adopted"  # a create found its mirror already there (stamped) with this content
    SKIP_ECHO = "skip_echo"  # our own write read back
    SKIP_UNCHANGED = "skip_unchanged"  # nothing the mirror shows has changed
    SKIP_DIRECTION = "skip_direction"  # the pair does not sync this way
    SKIP_FOREIGN_MIRROR = "skip_foreign_mirror"  # a mirror of other calendars: never chained
    SKIP_DUPLICATE_MIRROR = "skip_duplicate_mirror"  # carries our stamp but is not the linked mirror
    SKIP_FILTERED = "skip_filtered"  # the detail level shows nothing for it (a free event as busy)
    SKIP_NO_MASTER = "skip_no_master"  # an exception whose series has no mirror
    SKIP_MIRROR_EDIT = "skip_mirror_edit"  # an occurrence edit on a one-way mirror series
    SKIP_GONE = "skip_gone"  # the event to delete or restore from is already gone
    SKIP_EVENT_TYPE = "skip_event_type"  # a kind of event never mirrored (a Google birthday, ...)


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    """A keyword in the origin's location asked for a meeting that `host`'s provider makes.

    `event` is the origin's content with the keyword taken out and the meeting asked for. When
    the host is the origin's side, the origin is written first and its new link goes into the
    mirror; otherwise the mirror is written first and the origin gets its link after (docs/hybrid.md)."""

    host: Side
    origin: Side
    origin_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class Resolution:
    """A conflict was decided: both sides changed since the link; `winner`'s content was kept."""

    winner: Side
    reason: str
    # what was recorded and what was read on each side (ids, versions, hash prefixes: no content)
    evidence: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Create:
    target: Side
    event: Event
    stamp: MirrorStamp | None  # None when writing back to the side where a person made the series
    link: Link  # complete but for the target side
    conflict: Resolution | None = None
    outcome: Outcome = Outcome.CREATED
    meeting: MeetingRequest | None = None


@dataclass(frozen=True, slots=True)
class Update:
    target: Side
    target_id: str
    event: Event
    stamp: MirrorStamp | None  # None: writing back to the person's own event, which stays unstamped
    link: Link
    conflict: Resolution | None = None
    outcome: Outcome = Outcome.UPDATED
    meeting: MeetingRequest | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    target: Side
    target_id: str | None  # None: no link; find the mirror by `stamp` first (a create lost its link)
    stamp: MirrorStamp | None
    link: Link | None  # the tombstone to record
    outcome: Outcome = Outcome.DELETED


@dataclass(frozen=True, slots=True)
class Skip:
    outcome: Outcome
    reason: str
    link: Link | None = None  # a refreshed link to record (a newer version of unchanged content)


@dataclass(frozen=True, slots=True)
class ReadCounterpart:
    """The planner needs the other copy's current state before it can decide."""

    side: Side
    event_id: str


@dataclass(frozen=True, slots=True)
class Seen:
    """The counterpart as read: None when it is gone."""

    fetched: Fetched | None


Action = Create | Update | Delete | Skip
Plan = Action | ReadCounterpart
