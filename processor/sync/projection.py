"""What a source event looks like once projected for the pair's detail level.

Hashing the projection, not the raw event, is what makes an edit that a busy block cannot show
(a new title, an added attendee) a no-op instead of a rewrite of every mirror.
"""

from __future__ import annotations

from calbridge.model import Event, ShowAs, content_hash
from calbridge.pairs.policy import Detail

__all__ = ["BUSY_TITLE", "fingerprint", "project", "wants_mirror"]

BUSY_TITLE = "Busy"


def wants_mirror(event: Event, detail: Detail) -> bool:
    """A busy block exists only for time that is blocked; a free event has none."""
    if event.cancelled:
        return False
    return detail is Detail.FULL or event.show_as is not ShowAs.FREE


def project(event: Event, detail: Detail) -> Event:
    """The content the mirror should hold. Idempotent: projecting a projection changes nothing."""
    if detail is Detail.FULL:
        return event
    return Event(
        id=event.id,
        span=event.span,
        title=BUSY_TITLE,
        status=event.status,
        show_as=event.show_as,
        recurrence=event.recurrence,
        instance_of=event.instance_of,
        reminders=(),  # a block should not ring: the real event already reminds its owner
    )


def fingerprint(event: Event, detail: Detail) -> str:
    return content_hash(project(event, detail))
