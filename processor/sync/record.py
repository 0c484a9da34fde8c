"""The link record: what the engine knows about the two copies of one event in a pair.

It mirrors one row of the store's `links` table. Versions and hashes are what we last saw or
wrote on each side; they are how an echo of our own write is told apart from a person's edit.
Before a write, the link records the content the write will leave (`expecting`), and keeps the
content it replaces as the side's `prior`: until the write is confirmed, either is ours.
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
    # the hash a write about to be made replaced (`expecting`): the target may still hold it
    google_prior: str | None = None
    microsoft_prior: str | None = None
    row_id: int | None = dataclasses.field(default=None, compare=False)

    def id_on(self, side: Side) -> str | None:
        return self.google_id if side is Side.GOOGLE else self.microsoft_id

    def version_on(self, side: Side) -> str | None:
        return self.google_version if side is Side.GOOGLE else self.microsoft_version

    def hash_on(self, side: Side) -> str | None:
        return self.google_hash if side is Side.GOOGLE else self.microsoft_hash

    def prior_on(self, side: Side) -> str | None:
        return self.google_prior if side is Side.GOOGLE else self.microsoft_prior

    def knows(self, side: Side, version: str | None, digest: str) -> bool:
        """Whether a read of `side` at `version` with content `digest` is ours: the version or the
        content last recorded, or the content an unconfirmed write replaced."""
        return version == self.version_on(side) or digest in (self.hash_on(side), self.prior_on(side))

    def with_side(self, side: Side, event_id: str | None, version: str | None, digest: str | None) -> Link:
        """`side` as read or written: its id, version and content (no write pending there)."""
        if side is Side.GOOGLE:
            return dataclasses.replace(
                self, google_id=event_id, google_version=version, google_hash=digest, google_prior=None
            )
        return dataclasses.replace(
            self,
            microsoft_id=event_id,
            microsoft_version=version,
            microsoft_hash=digest,
            microsoft_prior=None,
        )

    def expecting(self, side: Side, digest: str) -> Link:
        """Before a write to `side`: the content it will leave, the version kept (the read of the
        side before the write lands still matches it), and the content replaced kept as `prior`
        (an earlier write of ours that landed unconfirmed: its read still matches that)."""
        prior = self.hash_on(side) if self.hash_on(side) != digest else self.prior_on(side)
        if side is Side.GOOGLE:
            return dataclasses.replace(self, google_hash=digest, google_prior=prior)
        return dataclasses.replace(self, microsoft_hash=digest, microsoft_prior=prior)

    @property
    def is_series_record(self) -> bool:
        """A series mirrored by a fallback (`processor.sync.series`), not by one mirror."""
        return not self.deleted and (self.version_on(self.origin.other) or "").startswith(FALLBACK_MARK)

    def as_deleted(self) -> Link:
        return dataclasses.replace(self, deleted=True)
