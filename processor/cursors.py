"""One hint, one calendar, several pairs: every pass starts from the same stored cursor.

The cursor belongs to the calendar (the store keys it by calendar ref), while a pass runs per
pair. Run one pair after the other on the bare repository and the first pass would advance the
cursor past changes the second pair never saw. `SharedCursor` wraps the link repository for
the passes of one hint: each pass loads the cursor as it was stored, saving is held back, and
`commit` stores the *first* pass's next cursor once every pair succeeded: the earliest
position, so a change that arrived between the passes is read again next time (harmless) and
never skipped.

A baseline (a pair just activated or resumed, or an operator's resync) asks for more: the pair
may never have seen what happened before the stored cursor (another pair of the calendar moved
it, or it moved while this pair was paused). Those passes start `from_scratch` (a full read,
which the engine makes idempotent and guards with the breaker).
"""

from __future__ import annotations

from datetime import datetime

from calbridge.events import ChangeEvent, ChangeKind
from processor.sync.links import ForwardingLinks, LinkRepository, StoredCursor

__all__ = ["FULL_READ_REASONS", "SharedCursor", "wants_full_read"]

_UNREAD = object()

# Reasons of RESYNC hints that need a full read (calbridge.pairs.admin: activation baseline,
# resume, an operator's `pairs resync`). Reconciliation and lost-notification resyncs read
# since the cursor: the provider's feed holds whatever a lost notification was about.
FULL_READ_REASONS = frozenset({"baseline", "resume", "operator"})


def wants_full_read(hint: ChangeEvent) -> bool:
    return hint.kind is ChangeKind.RESYNC and hint.reason in FULL_READ_REASONS


class SharedCursor(ForwardingLinks):
    def __init__(self, links: LinkRepository, calendar_ref: str, *, from_scratch: bool = False) -> None:
        super().__init__(links)
        self._ref = calendar_ref
        self._start: object = None if from_scratch else _UNREAD
        self._next: tuple[str | None, bool, datetime | None] | None = None

    async def load_cursor(self, calendar_ref: str) -> StoredCursor | None:
        if calendar_ref != self._ref:
            return await self._links.load_cursor(calendar_ref)
        if self._start is _UNREAD:
            self._start = await self._links.load_cursor(calendar_ref)
        return self._start  # type: ignore[return-value]

    async def save_cursor(
        self, calendar_ref: str, cursor: str | None, *, full: bool, read_at: datetime | None = None
    ) -> None:
        if calendar_ref != self._ref:
            await self._links.save_cursor(calendar_ref, cursor, full=full, read_at=read_at)
        elif self._next is None:
            self._next = (cursor, full, read_at)

    async def commit(self) -> None:
        """Store the earliest next cursor of the passes (call once all of them succeeded), with
        the time the first pass's read began: the earliest, like the cursor."""
        if self._next is not None:
            cursor, full, read_at = self._next
            await self._links.save_cursor(self._ref, cursor, full=full, read_at=read_at)
