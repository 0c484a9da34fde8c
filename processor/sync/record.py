"""The link record: what the engine knows about the two copies of one event in a pair.

It mirrors one row of the store's `links` table. Versions and hashes are what we last saw or
wrote on each side; they are how an echo of our own write is told apart from a person's edit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from calbridge.pairs.policy import Side

__all__ = ["FALLBACK_MARK", "Link"]

# The version a link records on the target side of a series mirrored by a fallback (split into
# several series, or expanded into single events): no one event is its mirror there.
FALLBACK_MARK = "fallback:"


@dataclass(frozen=True, slots=True)
class Link:
    origin: Side  # where a person made the event; the other side holds the mirror
    google_id: str | None = None
    microsoft_id: str | None = None
    google_version: str | None = None
    microsoft_version: str | None = None
    google_hash: str | None = None
    microsoft_hash: str | None = None
    deleted: bool = False
    row_id: int | None = dataclasses.field(default=None, compare=False)

    def id_on(self, side: Side) -> str | None:
        return self.google_id if side is Side.GOOGLE else self.microsoft_id

    def version_on(self, side: Side) -> str | None:
        return self.google_version if side is Side.GOOGLE else self.microsoft_version

    def hash_on(self, side: Side) -> str | None:
        return self.google_hash if side is Side.GOOGLE else self.microsoft_hash

    def with_side(self, side: Side, event_id: str | None, version: str | None, digest: str | None) -> Link:
        if side is Side.GOOGLE:
            return dataclasses.replace(self, google_id=event_id, google_version=version, google_hash=digest)
        return dataclasses.replace(
            self, microsoft_id=event_id, microsoft_version=version, microsoft_hash=digest
        )

    @property
    def is_series_record(self) -> bool:
        """A series mirrored by a fallback (`processor.sync.series`), not by one mirror."""
        return not self.deleted and (self.version_on(self.origin.other) or "").startswith(FALLBACK_MARK)

    def as_deleted(self) -> Link:
        return dataclasses.replace(self, deleted=True)
