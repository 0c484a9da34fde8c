"""The Graph change feed: `calendarView/delta` rounds as `ChangePage`s.

- Pages run from nextLink to deltaLink; the cursor is the deltaLink (plus the series seen, see
  `graph_cursor`); 410 raises CursorExpired.
- Delta cannot expand extended properties, so stamps are read with a GET where they can exist:
  on events whose `transactionId` calbridge wrote (or when the server does not say), unless the
  row's `changeKey` is the one the adapter last wrote or read the event at (`graph_marks`).
- Delta lists occurrences and exceptions, never series masters. Each series touched in a round
  is read once: its master (with marks), its exceptions in the window, and its cancelled
  occurrences, which Graph does not list at all (`graph_series`). Instances are listed with
  `$select` (`GRAPH_SELECT`): only then does Graph say each one's `originalStart`, its slot in
  the series; delta rows never carry it (delta takes no `$select`), so they only name the series.
- `@removed` also names events that merely left the window; an id is reported Removed only if
  a GET confirms it is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calbridge.model import AllDay, Event, EventStatus, InstanceOf, Timed
from calbridge.providers.base import Change, ChangePage, Fetched, MirrorStamp, Removed
from calbridge.providers.graph.cursor import GraphCursor
from calbridge.providers.graph.labels import needs_home_zone, needs_series_zone, zone_from_slots
from calbridge.providers.graph.mailbox import GraphMailbox, get_request, iso
from calbridge.providers.graph.series import cancelled_starts
from calbridge.providers.graph.translate import GRAPH_SELECT, fetched_from_graph, graph_instant

__all__ = [
    "CANCELLED_MARK",
    "TRANSACTION_PREFIX",
    "DeltaWindow",
    "item_zone",
    "labelled_zone",
    "list_instances",
    "read_changes",
    "series_zone",
]

TRANSACTION_PREFIX = "calbridge-"
# The id of a cancelled occurrence is made up here (Graph lists none): `<series>/cancelled/<start>`.
CANCELLED_MARK = "/cancelled/"
INSTANCES_PAGE = 200  # Graph pages instances by 10 unless asked: a daily series has ~490 here

DeltaWindow = tuple[datetime, datetime]


@dataclass
class _Round:
    """What one round of delta pages has seen so far."""

    series: set[str] = field(default_factory=set)  # masters read this round (once each)
    removed: int = 0  # removals a GET confirmed


async def read_changes(
    mailbox: GraphMailbox, cursor: str | None, window: DeltaWindow, page_size: int
) -> AsyncIterator[ChangePage]:
    """Pages of changes since `cursor` (None: a full round over `window`)."""
    delta = mailbox.calendar_builder.calendar_view.delta
    known = GraphCursor.decode(cursor) if cursor is not None else None
    if known is None:
        info = get_request(delta, start_date_time=iso(window[0]), end_date_time=iso(window[1]))
    else:
        info = delta.with_url(known.delta_link).to_get_request_information()
    round_ = _Round()
    while True:
        page = await mailbox.call(info, on="listing", page_size=page_size)
        changes = await _page_changes(mailbox, page.get("value") or [], window, round_)
        link = page.get("@odata.nextLink")
        if link:
            yield ChangePage(tuple(changes), None)
            info = delta.with_url(link).to_get_request_information()
            continue
        series = set(round_.series) | (set(known.series) if known else set())
        if round_.removed and known is not None:
            gone = await _gone_series(mailbox, known.series - round_.series)
            changes.extend(Removed(master) for master in sorted(gone))
            series -= gone
        delta_link = page.get("@odata.deltaLink") or (known.delta_link if known else "")
        yield ChangePage(tuple(changes), GraphCursor(delta_link, frozenset(series)).encode())
        return


async def _page_changes(
    mailbox: GraphMailbox, rows: list[dict[str, Any]], window: DeltaWindow, round_: _Round
) -> list[Change]:
    # Rows are resolved concurrently (their GETs share the mailbox's cap), in page order.
    resolved = await asyncio.gather(*(_row_change(mailbox, row) for row in rows))
    changes: list[Change] = []
    series: list[str] = []
    for change in resolved:
        if isinstance(change, str):  # an occurrence or exception: its series is read below
            if change not in round_.series:
                round_.series.add(change)
                series.append(change)
        else:
            round_.removed += isinstance(change, Removed)
            changes.append(change)
    for batch in await asyncio.gather(*(_series(mailbox, master, window) for master in series)):
        changes.extend(batch)
    return changes


async def _row_change(mailbox: GraphMailbox, row: dict[str, Any]) -> Change | str:
    """One delta row as a change, or the id of the series it belongs to."""
    if "@removed" in row:
        item = await mailbox.read(row["id"])  # gone, or only out of the window?
        if item is None or item.get("isCancelled"):
            return Removed(row["id"])
        row = item
    master = row.get("seriesMasterId")
    if row.get("type") in ("occurrence", "exception") and master:
        return str(master)
    zone = await mailbox.home_zone() if needs_home_zone(row) else None
    return fetched_from_graph(await _marked(mailbox, row), zone=zone)


async def _series(mailbox: GraphMailbox, master_id: str, window: DeltaWindow) -> list[Change]:
    """A series as the engine wants it: master, its exceptions and its cancelled occurrences."""
    item = await mailbox.read(master_id)
    if item is None:
        return [Removed(master_id)]
    rows = await list_instances(mailbox, master_id, window)
    zone = labelled_zone(item, rows, await _home(mailbox, item))
    master = fetched_from_graph(item, zone=zone)
    found: list[Change] = [master]
    listed: list[datetime | date] = []
    for row in rows:
        fetched = fetched_from_graph(row, zone=zone)
        if fetched.event.instance_of is not None:
            listed.append(fetched.event.instance_of.original_start)
        if row.get("type") == "exception":
            found.append(fetched_from_graph(await _marked(mailbox, row, master.stamp), zone=zone))
    found.extend(_cancelled(master, start) for start in cancelled_starts(master.event, listed, window))
    return found


async def list_instances(mailbox: GraphMailbox, master_id: str, window: DeltaWindow) -> list[dict[str, Any]]:
    """The series' occurrences and exceptions in `window`, each with its `originalStart`."""
    instances = mailbox.event(master_id).instances
    info = get_request(
        instances,
        start_date_time=iso(window[0]),
        end_date_time=iso(window[1]),
        top=INSTANCES_PAGE,
        select=list(GRAPH_SELECT),  # originalStart names each instance's slot
    )
    return [row async for row in mailbox.rows(instances, info, on="event")]


def labelled_zone(item: dict[str, Any], rows: list[dict[str, Any]], home: str | None = None) -> str | None:
    """The zone of a series Graph names only by a label, as its slots show it (`graph_labels`),
    the mailbox's own zone `home` first; None when Graph names the zone."""
    if not needs_series_zone(item):
        return None
    slots = [moment for row in rows if (moment := graph_instant(row.get("originalStart"))) is not None]
    return zone_from_slots(slots, all_day=bool(item.get("isAllDay")), prefer=home)


async def series_zone(mailbox: GraphMailbox, item: dict[str, Any], window: DeltaWindow) -> str | None:
    """`labelled_zone` for one item read on its own: its series' instances are listed for it
    (only when Graph names the zone by a label, which is rare)."""
    if not needs_series_zone(item):
        return None
    master_id = item["id"] if item.get("type") == "seriesMaster" else item.get("seriesMasterId")
    if not master_id:
        return None
    rows = await list_instances(mailbox, str(master_id), window)
    return labelled_zone(item, rows, await mailbox.home_zone())


async def item_zone(mailbox: GraphMailbox, item: dict[str, Any], window: DeltaWindow) -> str | None:
    """The zone to read one item in when Graph names it only by a label: a series' from its
    slots, a single event's the mailbox's own (its instants are exact either way)."""
    if needs_home_zone(item):
        return await mailbox.home_zone()
    return await series_zone(mailbox, item, window)


async def _home(mailbox: GraphMailbox, item: dict[str, Any]) -> str | None:
    return await mailbox.home_zone() if needs_series_zone(item) else None


async def _marked(
    mailbox: GraphMailbox, row: dict[str, Any], inherited: MirrorStamp | None = None
) -> dict[str, Any]:
    """`row` with its extended properties, read where calbridge may have written them."""
    transaction = row.get("transactionId")
    ours = "transactionId" not in row or str(transaction or "").startswith(TRANSACTION_PREFIX)
    if not ours and inherited is None:
        return row
    known = mailbox.marks.complete(row) if mailbox.marks is not None else None
    if known is not None:
        return known  # unchanged since this adapter last saw its marks: no GET
    return await mailbox.read(row["id"]) or row


async def _gone_series(mailbox: GraphMailbox, masters: frozenset[str]) -> set[str]:
    """Which of these series masters no longer exist (a person deleted the whole series)."""
    ordered = sorted(masters)
    found = await asyncio.gather(*(mailbox.read(master) for master in ordered))
    return {master for master, item in zip(ordered, found, strict=True) if item is None}


def _cancelled(master: Fetched, start: datetime | date) -> Fetched:
    """A cancelled occurrence, shaped like Google's: its series, its original start, no length."""
    span: AllDay | Timed
    if isinstance(start, datetime):
        zone = master.event.span.zone if isinstance(master.event.span, Timed) else "UTC"
        span = Timed(start, start, zone)
        key = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    else:
        span = AllDay(start, start + timedelta(days=1))
        key = start.strftime("%Y%m%d")
    event = Event(
        id=f"{master.event.id}{CANCELLED_MARK}{key}",
        span=span,
        status=EventStatus.CANCELLED,
        instance_of=InstanceOf(master.event.id, start),
    )
    return Fetched(
        event=event,
        version=master.version,
        updated=master.updated,
        stamp=master.stamp,
        updated_precision=master.updated_precision,
    )
