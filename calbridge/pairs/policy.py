"""A pair's sync policy, and the two sides of a pair, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from calbridge.model import MeetingProvider

__all__ = ["ConflictPolicy", "Detail", "Direction", "MeetingLinks", "Policy", "Side"]


class Side(StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"  # Graph or EWS: the pair does not care which

    @property
    def other(self) -> Side:
        return Side.MICROSOFT if self is Side.GOOGLE else Side.GOOGLE


class Direction(StrEnum):
    BOTH = "both"
    GOOGLE_TO_MICROSOFT = "google-to-microsoft"
    MICROSOFT_TO_GOOGLE = "microsoft-to-google"


class Detail(StrEnum):
    FULL = "full"
    BUSY = "busy"  # "Busy" blocks with times and nothing else


class ConflictPolicy(StrEnum):
    NEWEST = "newest"
    GOOGLE = "google"
    MICROSOFT = "microsoft"


@dataclass(frozen=True, slots=True)
class MeetingLinks:
    """A pair's `--meeting-links`: which keyword in a location asks for which meeting, which
    side's provider can make which meeting (its profile), and on which sides the organiser's own
    event can be updated without mailing its attendees (docs/hybrid.md)."""

    keywords: tuple[tuple[str, MeetingProvider], ...]
    hosts: tuple[tuple[Side, MeetingProvider], ...]
    silent: frozenset[Side] = frozenset()
    # Each side's calendar owner: only an event its owner organises asks for a meeting (a guest's
    # copy of someone else's meeting is theirs to change, not ours).
    owners: tuple[tuple[Side, str], ...] = ()

    def host_of(self, provider: MeetingProvider) -> Side | None:
        return next((side for side, made in self.hosts if made is provider), None)

    def organises(self, side: Side, organizer: str | None) -> bool:
        """Whether `organizer` (None: not said, the owner's own event) is the owner of `side`."""
        owner = next((address for s, address in self.owners if s is side), None)
        return organizer is None or owner is None or organizer.lower() == owner.lower()


@dataclass(frozen=True, slots=True)
class Policy:
    pair_id: str
    direction: Direction = Direction.BOTH
    detail: Detail = Detail.FULL
    conflict: ConflictPolicy = ConflictPolicy.NEWEST
    # The key of the pair's two calendars (`calbridge.translate.stamps.pairing_key`), stamped on
    # every mirror: a pair added again after a removal knows its predecessor's mirrors by it.
    pairing: str | None = None
    # Meetings made on request (a keyword in the location); None: the pair does not (the default).
    meeting_links: MeetingLinks | None = None
    # Mirror working locations (Google) as free all-day markers; skipped otherwise (docs/hybrid.md).
    working_locations: bool = False
    # Sides whose provider mails a meeting's attendees on any write to it (its profile's
    # `silent_organizer_updates` is false: Graph): there a person's meeting with attendees is
    # never written by the sync, even in a peers pair; an edit or deletion of its mirror is
    # undone instead (sync rule 23).
    mailing_sides: frozenset[Side] = frozenset()

    def flows_from(self, side: Side) -> bool:
        """Whether changes made on `side` are carried to the other side."""
        if self.direction is Direction.BOTH:
            return True
        return self.direction is (
            Direction.GOOGLE_TO_MICROSOFT if side is Side.GOOGLE else Direction.MICROSOFT_TO_GOOGLE
        )

    def flows_into(self, side: Side) -> bool:
        return self.flows_from(side.other)

    def may_write_origin(self, side: Side, attendees: bool) -> bool:
        """Whether the sync may write a person's own event on `side` (a mirror's edit carried
        back): never a meeting with attendees where any write would mail them."""
        return not (attendees and side in self.mailing_sides)

    @property
    def peers(self) -> bool:
        """Two-way with full detail: either copy may be edited or deleted and the other follows.
        Otherwise the origin owns the event and its mirror is kept equal to it."""
        return self.direction is Direction.BOTH and self.detail is Detail.FULL
