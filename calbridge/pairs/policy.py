"""A pair's sync policy, and the two sides of a pair, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ConflictPolicy", "Detail", "Direction", "Policy", "Side"]


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
class Policy:
    pair_id: str
    direction: Direction = Direction.BOTH
    detail: Detail = Detail.FULL
    conflict: ConflictPolicy = ConflictPolicy.NEWEST
    # The key of the pair's two calendars (`calbridge.translate.stamps.pairing_key`), stamped on
    # every mirror: a pair added again after a removal knows its predecessor's mirrors by it.
    pairing: str | None = None
    # Sides whose provider mails a meeting's attendees on any write to it (the provider profile's
    # `writes_mail_attendees`): there a person's meeting with attendees is never written by the
    # sync, even in a peers pair; an edit or deletion of its mirror is undone instead.
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
