"""The one Protocol every provider adapter implements, and the data it speaks in.

The sync engine never sees provider JSON or SDK objects: it reads `Fetched` events and `Removed`
ids in `ChangePage`s, and writes `Event`s stamped with a `MirrorStamp` that makes creates
idempotent and lets a later read recognise calbridge's own mirrors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from calbridge.events import Provider
from calbridge.model import Event

__all__ = [
    "CalendarAddress",
    "CalendarProvider",
    "Change",
    "ChangePage",
    "Fetched",
    "MirrorStamp",
    "Removed",
]


@dataclass(frozen=True, slots=True)
class CalendarAddress:
    """Where a calendar lives on its provider: the user/mailbox and the calendar id."""

    owner: str
    calendar: str = "primary"


@dataclass(frozen=True, slots=True)
class MirrorStamp:
    """Written into every mirror (Google private extended property, Graph/EWS extended property):
    which pair made it, for which two calendars, and from which source event.

    A pair removed and added again gets a new pair id; `pairing` (`stamps.pairing_key` of the
    two calendars) stays the same, so the new pair still knows the mirrors the old one made.
    Mirrors written before the pairing was stamped carry none and are known by pair id only."""

    pair_id: str
    source_id: str
    pairing: str | None = None

    def matches(self, found: MirrorStamp | None) -> bool:
        """Whether a mirror carrying `found` is the mirror this stamp names: the same source
        event, written by this pair or by an earlier pair of the same two calendars."""
        if found is None or found.source_id != self.source_id:
            return False
        if self.pairing is not None and found.pairing == self.pairing:
            return True
        return found.pair_id == self.pair_id


@dataclass(frozen=True, slots=True)
class Fetched:
    """An event as read from a provider, with what the engine needs beside its content."""

    event: Event  # a cancelled event has status CANCELLED
    version: str  # etag / changeKey: changes whenever the provider's copy changes
    updated: datetime | None = None  # when the provider's copy last changed
    stamp: MirrorStamp | None = None  # present when calbridge wrote this event as a mirror
    # The precision the provider gives `updated` in (Google: milliseconds, Graph: 100 ns, kept
    # to the microsecond; EWS: seconds). Two times are compared at the coarser of the two.
    updated_precision: timedelta = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Removed:
    """The provider says this event id is gone (Graph `@removed`, a Google tombstone without data)."""

    id: str


Change = Fetched | Removed


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: tuple[Change, ...]
    cursor: str | None  # the cursor to store once this page is applied (None until the last page)


class CalendarProvider(Protocol):
    provider: Provider

    async def check_access(self, calendar: CalendarAddress) -> None:
        """Raise AccessDenied or NotFound unless the app may read and write this calendar."""

    def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        """Pages of changes since `cursor` (None: everything, a full sync). Raises CursorExpired."""

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None: ...

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        """The mirror carrying this stamp, if one exists (a create that crashed before its link)."""

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        """Create a mirror without inviting anyone; idempotent for the same stamp.

        An event with `instance_of` set is not a new event: it changes the occurrence of the
        series `instance_of.master_id` (on this calendar) that starts at `original_start`, and
        with status CANCELLED it removes that occurrence. `stamp` is None only when such an
        occurrence change is written back to a person's own series (two-way pairs)."""

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        """Replace the event's content. `stamp` None: the event is a person's own (a two-way
        edit written back to where the event was made): write no stamp, keep what is there."""

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        """Delete without mailing cancellations; raise NotFound if already gone."""
