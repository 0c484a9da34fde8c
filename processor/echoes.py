"""Recognising a hint that only reports calbridge's own write, without reading the calendar.

Graph (and EWS) notifications name the event and its version (`@odata.etag`, which is
`W/"<changeKey>"`). When the pair's link already records that version for that event on that
side, the notification is the echo of a write the processor made (or of a change it already
carried over): nothing is new for this event, and no pass is needed. A deletion notice for an
event whose link is a tombstone is the same. Other events' changes are not affected: each has
hints of its own, and dropped ones are caught by the next pass or the periodic resync.
"""

from __future__ import annotations

from calbridge.events import ChangeEvent, ChangeKind
from calbridge.pairs.policy import Side
from processor.sync.record import Link

__all__ = ["is_known_version", "same_version"]


def same_version(recorded: str | None, hinted: str | None) -> bool:
    """Whether two version strings name the same version (`W/"ck"`, `"ck"` and `ck` alike)."""
    if not recorded or not hinted:
        return False
    return _bare(recorded) == _bare(hinted)


def is_known_version(hint: ChangeEvent, side: Side, link: Link | None) -> bool:
    """Whether `hint` (about an event on `side`) tells nothing the link does not already record."""
    if link is None or hint.resource is None:
        return False
    if hint.kind is ChangeKind.DELETED:
        return link.deleted
    if hint.kind not in (ChangeKind.CREATED, ChangeKind.UPDATED) or link.deleted:
        return False
    recorded = link.google_version if side is Side.GOOGLE else link.microsoft_version
    return same_version(recorded, hint.version)


def _bare(version: str) -> str:
    text = version.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')
