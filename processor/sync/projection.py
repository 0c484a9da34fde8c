"""What a source event looks like once projected for the pair's detail level.

Hashing the projection, not the raw event, is what makes an edit that a busy block cannot show
(a new title, an added attendee) a no-op instead of a rewrite of every mirror.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from calbridge.model import Event, ShowAs, Timed, content_hash
from calbridge.pairs.policy import Detail
from calbridge.translate.recurrence import excluded_starts

__all__ = ["BUSY_TITLE", "exclusion_line", "fingerprint", "is_exclusion", "project", "wants_mirror"]

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
    return content_hash(_canonical_exclusions(project(event, detail)))


def exclusion_line(original: datetime | date) -> str:
    """The one spelling of an excluded date the fingerprint knows (UTC, or a date)."""
    if isinstance(original, datetime):
        return f"EXDATE:{original.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"EXDATE;VALUE=DATE:{original:%Y%m%d}"


def _canonical_exclusions(event: Event) -> Event:
    """EXDATE lines spelled one way and in one order, after the other lines: Google keeps what
    a person wrote (`EXDATE;TZID=...`), Exchange and Outlook read their deleted occurrences back
    in their own spelling and order, and the same excluded dates must hash the same whichever
    side spelled them."""
    if event.recurrence is None or not any(is_exclusion(line) for line in event.recurrence.rules):
        return event
    zone = event.span.zone if isinstance(event.span, Timed) else "UTC"
    lines: list[str] = []
    exclusions: set[str] = set()
    for line in event.recurrence.rules:
        if not is_exclusion(line):
            lines.append(line)
            continue
        try:
            exclusions.update(exclusion_line(moment) for moment in excluded_starts((line,), zone))
        except (ValueError, KeyError):
            exclusions.add(line)  # not ours to read: hashed as written
    canonical = (*dict.fromkeys(lines), *sorted(exclusions))
    return dataclasses.replace(event, recurrence=dataclasses.replace(event.recurrence, rules=canonical))


def is_exclusion(line: str) -> bool:
    """Whether a recurrence line is an EXDATE line (in any spelling)."""
    return line.split(":", 1)[0].split(";", 1)[0].upper() == "EXDATE"
