"""Series the other side cannot hold as one pattern: mirrored by a fallback and kept in step.

When the target refuses a series' rules (`UnsupportedRecurrence`: `BYMONTHDAY=31`, `RDATE`,
several RRULEs, ...), `calbridge.translate.fallback.plan_fallback` chooses how to mirror it:
**split** into several native series, or **expanded** into single events over a rolling
horizon. Each of those *pieces* is an ordinary change for the planner, with an id of its own on
the origin side, so creates, echoes, edits and deletions of pieces follow the usual rules and
links:

- a split part is `<series id>~p<n>` (never a real id: Google ids are base32hex);
- an expanded occurrence is the origin's own id of that occurrence, `<series id>_<original
  start>` (`20270131T080000Z`, or `20270131` all-day), which the origin reads back as the
  instance. A person's edit or cancellation of an occurrence (an exception on the origin, an
  edit or deletion of the single event on the target) therefore maps to the same link.

The series itself keeps one link, the *record*: its id and version on the origin, and on the
target no id but `FALLBACK_MARK` + kind + the horizon's end (`fallback:expanded:2027-12-08`).
Every read of the series recomputes its pieces (created, updated, deleted: a shortened or ended
series shrinks); each pass also re-reads the expanded series whose horizon is a day behind, so
occurrences entering the horizon arrive as time passes. Pieces a person cancelled stay
cancelled (their links are tombstones), and occurrences changed on their own (a version other
than the series') are left to their own changes.

Deciding the pieces is pure (`plan_pieces`); this module's async functions only read and hand
the resulting changes to the engine's own plan-and-apply (`apply`, injected).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from calbridge.model import AllDay, Event, Recurrence, Span, Timed
from calbridge.pairs.policy import Side
from calbridge.providers.base import Change, Fetched, Removed
from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.fallback import Expanded, Split, expand, plan_fallback
from calbridge.translate.recurrence import graph_recurrence
from processor.sync.actions import Action, Create, Delete, Outcome, Skip, Update
from processor.sync.context import PairContext
from processor.sync.links import LinkRepository
from processor.sync.plan import change_id, is_removal
from processor.sync.projection import fingerprint
from processor.sync.record import FALLBACK_MARK, Link

__all__ = [
    "DEFAULT_HORIZON",
    "Horizon",
    "SeriesFallback",
    "is_piece_of",
    "occurrence_piece_id",
    "part_piece_id",
    "plan_pieces",
    "unmap_parts",
]

log = structlog.get_logger("calbridge.processor")

_PART = "~p"
_OCCURRENCE = re.compile(r"^(?P<series>.+)_(?P<stamp>\d{8}(?:T\d{6}Z)?)$")

Apply = Callable[[Change], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far an expanded series is written: from `behind` before now to `ahead` after it."""

    ahead: timedelta = timedelta(days=365)
    behind: timedelta = timedelta(days=31)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        return now - self.behind, now + self.ahead


# --- ids


DEFAULT_HORIZON = Horizon()


def part_piece_id(series_id: str, index: int) -> str:
    return f"{series_id}{_PART}{index}"


def occurrence_piece_id(series_id: str, start: datetime | date) -> str:
    if isinstance(start, datetime):
        return f"{series_id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{series_id}_{start:%Y%m%d}"


def series_of_part(piece_id: str) -> str | None:
    head, sep, tail = piece_id.rpartition(_PART)
    return head if sep and tail.isdigit() else None


def is_part(event_id: str) -> bool:
    """A split part's id: no provider reads it back, so a full read never asks for it."""
    return series_of_part(event_id) is not None


def is_piece_of(event_id: str, series_ids: set[str | None]) -> bool:
    """Whether `event_id` is a piece (split part or expanded occurrence) of one of these series."""
    if series_of_part(event_id) is not None:
        return True  # a part is never read back, whatever its series
    match = _OCCURRENCE.match(event_id)
    return match is not None and match["series"] in series_ids


def _belongs(piece_id: str, series_id: str) -> bool:
    if series_of_part(piece_id) == series_id:
        return True
    match = _OCCURRENCE.match(piece_id)
    return match is not None and match["series"] == series_id


def _record_kind(link: Link) -> str:
    mark = link.version_on(link.origin.other) or ""
    return mark[len(FALLBACK_MARK) :].split(":", 1)[0]


def _record_horizon(link: Link) -> date | None:
    mark = link.version_on(link.origin.other) or ""
    try:
        return date.fromisoformat(mark.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


# --- pure decisions


def holds_natively(rules: tuple[str, ...], first: datetime | date, zone: str) -> bool:
    """Whether one native Outlook/Exchange pattern holds these lines (EXDATEs aside)."""
    try:
        graph_recurrence(rules, first, zone=zone, windows_zone=zone)
    except (UnsupportedRecurrence, ValueError):
        return False
    return True


def _fits_one_event(event: Event) -> bool:
    if event.recurrence is None:
        return True
    zone, first = _zone_and_first(event)
    return holds_natively(event.recurrence.rules, first, zone)


def _zone_and_first(event: Event) -> tuple[str, datetime | date]:
    if isinstance(event.span, AllDay):
        return "UTC", event.span.start
    return event.span.zone, event.span.start.astimezone(ZoneInfo(event.span.zone))


def _at(span: Span, start: datetime | date) -> Span:
    """`span` moved to begin at `start`, same length."""
    if isinstance(span, AllDay):
        assert isinstance(start, date) and not isinstance(start, datetime)
        return AllDay(start, start + (span.end - span.start))
    assert isinstance(start, datetime)
    return Timed(start, start + (span.end - span.start), span.zone)


def plan_pieces(
    master: Fetched,
    fallback: Split | Expanded,
    record: Link | None,
    known: dict[str, Link],
    window: tuple[datetime, datetime],
) -> list[Change]:
    """The changes that bring the pieces of `master` to `fallback`: each wanted piece as a
    Fetched (the planner skips it when unchanged), each piece no longer wanted as Removed.

    `known` holds the links of the series' pieces (live, and tombstones of wanted ones).
    Pieces a person cancelled (tombstones) are not written again; occurrences changed on their
    own (their version is not the series' version the record saw) are left as they are."""
    event = master.event
    series_id = event.id
    wanted: dict[str, Event] = {}
    if isinstance(fallback, Split):
        for index, part in enumerate(fallback.parts):
            piece_id = part_piece_id(series_id, index)
            wanted[piece_id] = dataclasses.replace(
                event, id=piece_id, span=_at(event.span, part.start), recurrence=Recurrence(part.rules)
            )
    else:
        for start in fallback.starts:
            piece_id = occurrence_piece_id(series_id, start)
            wanted[piece_id] = dataclasses.replace(
                event, id=piece_id, span=_at(event.span, start), recurrence=None
            )
    side_version = record.version_on(record.origin) if record is not None else None
    changes: list[Change] = []
    for piece_id, piece in wanted.items():
        link = known.get(piece_id)
        if link is not None and link.deleted:
            continue  # cancelled by a person, on either side
        own = link is not None and side_version is not None and link.version_on(link.origin) != side_version
        if own and isinstance(fallback, Expanded):
            continue  # an occurrence changed on its own: its own changes carry it
        changes.append(dataclasses.replace(master, event=piece, stamp=None))
    low = window[0]
    for piece_id, link in sorted(known.items()):
        if link.deleted or piece_id in wanted:
            continue
        if isinstance(fallback, Expanded) and series_of_part(piece_id) is None:
            began = _piece_start(piece_id)
            if began is not None and began < low:
                continue  # history before the horizon stays as it was
        changes.append(Removed(piece_id))
    return changes


def _piece_start(piece_id: str) -> datetime | None:
    match = _OCCURRENCE.match(piece_id)
    if match is None:
        return None
    stamp = match["stamp"]
    if "T" in stamp:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=UTC)


def unmap_parts(action: Action) -> Action:
    """Occurrence writes planned onto a split part's id on the origin side go to the series
    itself (the origin holds one series; the parts exist only on the target)."""
    if isinstance(action, Create | Update):
        instance = action.event.instance_of
        if instance is not None and (series := series_of_part(instance.master_id)) is not None:
            moved = dataclasses.replace(instance, master_id=series)
            return dataclasses.replace(action, event=dataclasses.replace(action.event, instance_of=moved))
        if isinstance(action, Update) and is_part(action.target_id):
            return Skip(Outcome.SKIP_MIRROR_EDIT, "an edit of one part of a split series is not carried back")
    if isinstance(action, Delete) and action.target_id is not None and is_part(action.target_id):
        return Skip(Outcome.SKIP_MIRROR_EDIT, "one part of a split series was deleted; the series stays")
    return action


def _record(
    master: Fetched, link: Link | None, side: Side, kind: str, horizon_end: date, digest: str
) -> Link:
    base = Link(origin=side, row_id=link.row_id if link is not None else None)
    mark = f"{FALLBACK_MARK}{kind}:{horizon_end.isoformat()}"
    record = base.with_side(side, master.event.id, master.version, digest)
    return record.with_side(side.other, None, mark, None)


# --- the engine's side


@dataclass(slots=True)
class SeriesFallback:
    """The fallback as one pass uses it: the pair, its links, the clock and the horizon."""

    pair: PairContext
    links: LinkRepository
    side: Side
    now: datetime
    horizon: Horizon

    @property
    def _pair_id(self) -> str:
        return self.pair.policy.pair_id

    async def route(self, change: Change, apply: Apply) -> Outcome | None:
        """Handle `change` when it concerns a series mirrored by a fallback; None otherwise."""
        if isinstance(change, Fetched) and change.event.instance_of is not None:
            master = await self.links.find(self._pair_id, self.side, change.event.instance_of.master_id)
            if master is None or not master.is_series_record:
                return None
            return await self._occurrence(change, master, apply)
        link = await self.links.find(self._pair_id, self.side, change_id(change))
        if link is None or not link.is_series_record or link.origin is not self.side:
            return None
        if is_removal(change):
            return await self._retire(change_id(change), link, apply)
        assert isinstance(change, Fetched)
        if _fits_one_event(change.event):
            # A single event now, or a series that fits one pattern again: write it as one
            # mirror, then drop the pieces (the target may still refuse: then as before).
            await self.links.save(self._pair_id, dataclasses.replace(link, deleted=True))
            try:
                outcome = await apply(change)
            except UnsupportedRecurrence:
                await self.links.save(self._pair_id, link)
            else:
                await self._drop_pieces(change.event.id, apply)
                return outcome
        return await self.mirror(change, link, apply)

    async def mirror(self, master: Fetched, link: Link | None, apply: Apply) -> Outcome:
        """Mirror `master` by its fallback (the target refused it as one series). A split whose
        part the target refuses after all (an EWS limit the neutral pattern does not know)
        becomes an expansion."""
        try:
            return await self._mirror(master, link, apply, split=True)
        except UnsupportedRecurrence:
            return await self._mirror(master, link, apply, split=False)

    async def _mirror(self, master: Fetched, link: Link | None, apply: Apply, *, split: bool) -> Outcome:
        event = master.event
        if event.recurrence is None:
            raise UnsupportedRecurrence("a series without recurrence lines")
        zone, first = _zone_and_first(event)
        window = self.horizon.window(self.now)
        fallback = plan_fallback(
            event.recurrence.rules,
            first,
            zone,
            window=window,
            holds=lambda rules, start: holds_natively(rules, start, zone),
            split=split,
        )
        if not isinstance(fallback, Split | Expanded):
            raise UnsupportedRecurrence(f"no fallback: {fallback.reason}")
        other = self.side.other
        if link is not None and not link.deleted and not link.is_series_record:
            native = link.id_on(other)
            if native is not None:  # it was one series until now: that mirror goes
                await apply(Removed(event.id))
        known = await self._known(event.id, fallback)
        record = link if link is not None and link.is_series_record else None
        outcomes = [await apply(change) for change in plan_pieces(master, fallback, record, known, window)]
        kind = "split" if isinstance(fallback, Split) else "expanded"
        digest = fingerprint(event, self.pair.policy.detail)
        await self.links.save(self._pair_id, _record(master, link, self.side, kind, window[1].date(), digest))
        log.info("series_fallback", pair=self._pair_id, kind=kind, pieces=len(outcomes))
        if any(o in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED) for o in outcomes):
            return Outcome.CREATED if record is None else Outcome.UPDATED
        return Outcome.SKIP_UNCHANGED

    async def extend(self, handled: set[str], apply: Apply) -> int:
        """Re-read the expanded series whose horizon is a day or more behind, so occurrences
        entering it are written. Returns how many were extended."""
        due = self.horizon.window(self.now)[1].date() - timedelta(days=1)
        source = self.pair.calendar(self.side)
        extended = 0
        for record in await self.links.series_records(self._pair_id, self.side):
            series_id = record.id_on(self.side)
            end = _record_horizon(record)
            if series_id is None or series_id in handled or _record_kind(record) != "expanded":
                continue
            if end is not None and end > due:
                continue
            fetched = await source.provider.get(source.address, series_id)
            if fetched is None or fetched.event.cancelled:
                await self._retire(series_id, record, apply)
            else:
                await self.mirror(fetched, record, apply)
            extended += 1
        return extended

    async def _occurrence(self, change: Fetched, master: Link, apply: Apply) -> Outcome:
        """An exception (moved, edited, cancelled occurrence) of a series mirrored by a fallback."""
        instance = change.event.instance_of
        assert instance is not None
        series_id = instance.master_id
        if _record_kind(master) == "expanded":
            piece_id = occurrence_piece_id(series_id, instance.original_start)
            if change.event.cancelled:
                return await apply(Removed(piece_id))
            event = dataclasses.replace(change.event, id=piece_id, instance_of=None, recurrence=None)
            return await apply(dataclasses.replace(change, event=event))
        source = self.pair.calendar(self.side)
        series = await source.provider.get(source.address, series_id)
        if series is None or series.event.recurrence is None:
            return Outcome.SKIP_NO_MASTER
        zone, first = _zone_and_first(series.event)
        window = self.horizon.window(self.now)
        fallback = plan_fallback(
            series.event.recurrence.rules,
            first,
            zone,
            window=window,
            holds=lambda rules, start: holds_natively(rules, start, zone),
        )
        if not isinstance(fallback, Split):
            return Outcome.SKIP_NO_MASTER
        original = instance.original_start
        probe = (_as_instant(original) - timedelta(seconds=1), _as_instant(original) + timedelta(seconds=1))
        for index, part in enumerate(fallback.parts):
            if original in expand(part.rules, part.start, zone, window=probe, limit=3):
                moved = dataclasses.replace(instance, master_id=part_piece_id(series_id, index))
                return await apply(
                    dataclasses.replace(change, event=dataclasses.replace(change.event, instance_of=moved))
                )
        return Outcome.SKIP_NO_MASTER

    async def _retire(self, series_id: str, record: Link, apply: Apply) -> Outcome:
        await self._drop_pieces(series_id, apply)
        await self.links.save(self._pair_id, record.as_deleted())
        return Outcome.DELETED

    async def _drop_pieces(self, series_id: str, apply: Apply) -> None:
        for piece_id in sorted(await self._live_pieces(series_id)):
            await apply(Removed(piece_id))

    async def _live_pieces(self, series_id: str) -> set[str]:
        live = await self.links.live_ids(self._pair_id, self.side)
        return {event_id for event_id in live if _belongs(event_id, series_id)}

    async def _known(self, series_id: str, fallback: Split | Expanded) -> dict[str, Link]:
        if isinstance(fallback, Split):
            ids = {part_piece_id(series_id, n) for n in range(len(fallback.parts))}
        else:
            ids = {occurrence_piece_id(series_id, start) for start in fallback.starts}
        ids |= await self._live_pieces(series_id)
        return await self.links.find_many(self._pair_id, self.side, ids)


def _as_instant(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
