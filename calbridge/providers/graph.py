"""The Microsoft Graph adapter: `CalendarProvider` over msgraph-sdk (raw JSON, see `graph_client`).

- `changes` follows `calendarView/delta` over a window (`past`/`ahead` of now) from nextLink to
  deltaLink; the deltaLink is the cursor, and 410 raises CursorExpired.
- Delta cannot expand extended properties, so stamps are read with a GET where they can exist:
  on events whose `transactionId` calbridge wrote (or when the server does not say).
- Delta lists occurrences and exceptions, never series masters. Each series touched in a pass is
  read once: its master (with marks), its exceptions in the window, and its cancelled
  occurrences, which Graph does not list at all (`graph_series`).
- `@removed` also names events that merely left the window; an id is reported Removed only if
  a GET confirms it is gone.
- Creates carry a `transactionId` derived from the stamp, so a retried POST returns the event the
  first one made; mirrors never have attendees, so no write mails anyone.
- At most `MailboxLimits.per_mailbox` requests per mailbox are in flight (Outlook allows 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from calbridge.connections import Connection, GraphConnection
from calbridge.errors import AccessDenied, NotFound, ProviderError
from calbridge.events import Provider
from calbridge.model import AllDay, Event, EventStatus, InstanceOf, Timed
from calbridge.providers.base import CalendarAddress, Change, ChangePage, Fetched, MirrorStamp, Removed
from calbridge.providers.graph_client import PREFER, GraphClient
from calbridge.providers.graph_cursor import GraphCursor
from calbridge.providers.graph_errors import Target, translate_exception
from calbridge.providers.graph_series import cancelled_starts
from calbridge.providers.limits import MailboxLimits
from calbridge.providers.registry import register
from calbridge.providers.tuning import graph_options
from calbridge.settings import get_settings
from calbridge.translate import stamps
from calbridge.translate.graph import fetched_from_graph, graph_body

__all__ = ["GraphCalendar", "open_graph", "source_filter", "transaction_id"]

log = structlog.get_logger(__name__)

TRANSACTION_PREFIX = "calbridge-"
_PRIMARY = "primary"


def transaction_id(stamp: MirrorStamp) -> str:
    """The `transactionId` of the mirror carrying `stamp`: the same on every retry."""
    digest = hashlib.sha256(f"{stamp.pair_id}\x00{stamp.source_id}".encode()).hexdigest()
    return f"{TRANSACTION_PREFIX}{digest[:40]}"


def source_filter(stamp: MirrorStamp) -> str:
    """`$filter` for events stamped with this source id. One `Any` clause: Exchange's support for
    several joined by `and` is not documented (the sandbox refuses it); the pair is compared on
    the events that come back."""
    value = stamp.source_id.replace("'", "''")
    return (
        "singleValueExtendedProperties/Any(ep: ep/id eq "
        f"'{stamps.GRAPH_SOURCE_PROPERTY_ID}' and ep/value eq '{value}')"
    )


class GraphCalendar:
    """Outlook calendars of one tenant, reached through one app registration."""

    provider = Provider.GRAPH

    def __init__(
        self,
        client: GraphClient,
        *,
        limits: MailboxLimits | None = None,
        past: timedelta = timedelta(days=90),
        ahead: timedelta = timedelta(days=400),
        page_size: int = 50,
        all_day_zone: str = "UTC",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.limits = limits or MailboxLimits(4)
        self._past, self._ahead = past, ahead
        self._page_size = page_size
        self._all_day_zone = all_day_zone
        self._now = now

    @classmethod
    def connect(
        cls,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority: str | None = None,
        graph_url: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        **options: Any,
    ) -> GraphCalendar:
        client = GraphClient(
            tenant_id,
            client_id,
            client_secret,
            authority=authority,
            ca_file=ca_file,
            timeout=timeout,
            **({"graph_url": graph_url} if graph_url else {}),
        )
        return cls(client, **options)

    async def aclose(self) -> None:
        await self.client.close()

    # -- reading ------------------------------------------------------------------------------

    async def check_access(self, calendar: CalendarAddress) -> None:
        info = self.client.user(calendar.owner).calendars.to_get_request_information()
        while True:
            answer = await self._call(calendar, info, on="calendar")
            for row in answer.get("value") or []:
                wanted = row.get("isDefaultCalendar") if calendar.calendar == _PRIMARY else row.get("id")
                if wanted is True or wanted == calendar.calendar:
                    if not row.get("canEdit", True):
                        raise AccessDenied("the app may read but not write this Outlook calendar")
                    return
            link = answer.get("@odata.nextLink")
            if not link:
                raise NotFound("no such calendar in the mailbox")
            info = self.client.user(calendar.owner).calendars.with_url(link).to_get_request_information()

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        delta = self._calendar(calendar).calendar_view.delta
        now = self._now()
        window = (now - self._past, now + self._ahead)  # a delta link keeps the window it began with
        known = GraphCursor.decode(cursor) if cursor is not None else None
        if known is None:
            info = _get(delta, start_date_time=_iso(window[0]), end_date_time=_iso(window[1]))
        else:
            info = delta.with_url(known.delta_link).to_get_request_information()
        round_ = _Round()
        while True:
            page = await self._call(calendar, info, on="listing", page_size=self._page_size)
            changes = await self._page_changes(calendar, page.get("value") or [], window, round_)
            link = page.get("@odata.nextLink")
            if link:
                yield ChangePage(tuple(changes), None)
                info = delta.with_url(link).to_get_request_information()
                continue
            series = set(round_.series) | (set(known.series) if known else set())
            if round_.removed and known is not None:
                gone = await self._gone_series(calendar, known.series - round_.series)
                changes.extend(Removed(master) for master in gone)
                series -= gone
            delta_link = page.get("@odata.deltaLink") or (known.delta_link if known else "")
            yield ChangePage(tuple(changes), GraphCursor(delta_link, frozenset(series)).encode())
            return

    async def _gone_series(self, calendar: CalendarAddress, masters: frozenset[str]) -> set[str]:
        """Which of these series masters no longer exist (a person deleted the whole series)."""
        found = await asyncio.gather(*(self._read(calendar, master) for master in sorted(masters)))
        return {master for master, item in zip(sorted(masters), found, strict=True) if item is None}

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        item = await self._read(calendar, event_id)
        return fetched_from_graph(item) if item is not None else None

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        events = self._calendar(calendar).events
        info = _get(events, filter=source_filter(stamp), expand=[stamps.graph_expand_marks()])
        while True:
            answer = await self._call(calendar, info, on="calendar")
            for row in answer.get("value") or []:
                found = fetched_from_graph(row)
                if found.stamp == stamp and not found.event.cancelled:  # the pair is checked here
                    return found
            link = answer.get("@odata.nextLink")
            if not link:
                return None
            info = events.with_url(link).to_get_request_information()

    # -- writing ------------------------------------------------------------------------------

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        if event.instance_of is not None:
            return await self._write_occurrence(calendar, event, stamp)
        body = self._body(event, stamp)
        if stamp is not None:
            body["transactionId"] = transaction_id(stamp)
        info = GraphClient.request("POST", self._calendar(calendar).events, body)
        item = await self._call(calendar, info, on="calendar")
        return _with_marks(item, body)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        body = self._body(event, stamp)
        info = GraphClient.request(
            "PATCH", self.client.user(calendar.owner).events.by_event_id(event_id), body
        )
        item = await self._call(calendar, info, on="event")
        return _with_marks(item, body) if stamp is not None else fetched_from_graph(item)

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        info = GraphClient.request("DELETE", self.client.user(calendar.owner).events.by_event_id(event_id))
        await self._call(calendar, info, on="event")

    def _body(self, event: Event, stamp: MirrorStamp | None) -> dict[str, Any]:
        if stamp is not None:
            return graph_body(event, stamp, detail="full", all_day_zone=self._all_day_zone)
        # A person's own event: no stamp or facts, and leave their Teams meeting as it is.
        body = graph_body(event, MirrorStamp("", ""), detail="full", all_day_zone=self._all_day_zone)
        for key in ("singleValueExtendedProperties", "isOnlineMeeting"):
            body.pop(key, None)
        return body

    async def _write_occurrence(
        self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        """Change (or, cancelled, delete) the occurrence of a series that starts at the original
        start. Graph ids of occurrences are opaque: the series' instances are listed around
        that start and matched by `originalStart`."""
        assert event.instance_of is not None
        row = await self._occurrence(calendar, event.instance_of)
        if event.cancelled:
            if row is not None:
                with contextlib.suppress(NotFound):
                    await self.delete(calendar, row["id"])
            gone = Event(
                id=row["id"] if row else "",
                span=event.span,
                status=EventStatus.CANCELLED,
                instance_of=event.instance_of,
            )
            return Fetched(event=gone, version="", stamp=stamp)
        if row is None:
            raise NotFound("graph occurrence not found")
        body = self._body(event, stamp)
        body.pop("recurrence", None)
        info = GraphClient.request(
            "PATCH", self.client.user(calendar.owner).events.by_event_id(row["id"]), body
        )
        item = await self._call(calendar, info, on="event")
        return _with_marks(item, body) if stamp is not None else fetched_from_graph(item)

    async def _occurrence(self, calendar: CalendarAddress, instance_of: InstanceOf) -> dict[str, Any] | None:
        """The listed occurrence or exception with this original start (None: none, e.g. it was
        cancelled). A missing series raises NotFound."""
        original = instance_of.original_start
        if isinstance(original, datetime):
            centre = original
        else:
            centre = datetime.combine(original, datetime.min.time(), UTC)
        instances = self.client.user(calendar.owner).events.by_event_id(instance_of.master_id).instances
        for reach in (timedelta(days=2), timedelta(days=40)):  # an exception may have moved far
            info = _get(instances, start_date_time=_iso(centre - reach), end_date_time=_iso(centre + reach))
            while True:
                page = await self._call(calendar, info, on="event")
                for row in page.get("value") or []:
                    listed = fetched_from_graph(row).event.instance_of
                    if listed is not None and _same_start(listed.original_start, original):
                        return dict(row)
                link = page.get("@odata.nextLink")
                if not link:
                    break
                info = instances.with_url(link).to_get_request_information()
        return None

    # -- one delta page -----------------------------------------------------------------------

    async def _page_changes(
        self,
        calendar: CalendarAddress,
        rows: list[dict[str, Any]],
        window: tuple[datetime, datetime],
        round_: _Round,
    ) -> list[Change]:
        # Rows are resolved concurrently (their GETs share the mailbox's cap), in page order.
        resolved = await asyncio.gather(*(self._row_change(calendar, row) for row in rows))
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
        for batch in await asyncio.gather(*(self._series(calendar, m, window) for m in series)):
            changes.extend(batch)
        return changes

    async def _row_change(self, calendar: CalendarAddress, row: dict[str, Any]) -> Change | str:
        """One delta row as a change, or the id of the series it belongs to."""
        if "@removed" in row:
            item = await self._read(calendar, row["id"])  # gone, or only out of the window?
            if item is None or item.get("isCancelled"):
                return Removed(row["id"])
            row = item
        master = row.get("seriesMasterId")
        if row.get("type") in ("occurrence", "exception") and master:
            return str(master)
        return fetched_from_graph(await self._marked(calendar, row))

    async def _series(
        self, calendar: CalendarAddress, master_id: str, window: tuple[datetime, datetime]
    ) -> list[Change]:
        """A series as the engine wants it: master, its exceptions and its cancelled occurrences."""
        item = await self._read(calendar, master_id)
        if item is None:
            return [Removed(master_id)]
        master = fetched_from_graph(item)
        found: list[Change] = [master]
        listed: list[datetime | date] = []
        instances = self.client.user(calendar.owner).events.by_event_id(master_id).instances
        info = _get(instances, start_date_time=_iso(window[0]), end_date_time=_iso(window[1]))
        while True:
            page = await self._call(calendar, info, on="event")
            for row in page.get("value") or []:
                fetched = fetched_from_graph(row)
                if fetched.event.instance_of is not None:
                    listed.append(fetched.event.instance_of.original_start)
                if row.get("type") == "exception":
                    found.append(fetched_from_graph(await self._marked(calendar, row, master.stamp)))
            link = page.get("@odata.nextLink")
            if not link:
                break
            info = instances.with_url(link).to_get_request_information()
        for start in cancelled_starts(master.event, listed, window):
            found.append(_cancelled(master, start))
        return found

    async def _marked(
        self, calendar: CalendarAddress, row: dict[str, Any], inherited: MirrorStamp | None = None
    ) -> dict[str, Any]:
        """`row` with its extended properties, read where calbridge may have written them."""
        transaction = row.get("transactionId")
        ours = "transactionId" not in row or str(transaction or "").startswith(TRANSACTION_PREFIX)
        if not ours and inherited is None:
            return row
        return await self._read(calendar, row["id"]) or row

    async def _read(self, calendar: CalendarAddress, event_id: str) -> dict[str, Any] | None:
        builder = self.client.user(calendar.owner).events.by_event_id(event_id)
        try:
            item: dict[str, Any] = await self._call(
                calendar, _get(builder, expand=[stamps.graph_expand_marks()]), on="event"
            )
        except NotFound:
            return None
        return item

    # -- plumbing -----------------------------------------------------------------------------

    def _calendar(self, calendar: CalendarAddress) -> Any:
        user = self.client.user(calendar.owner)
        if calendar.calendar == _PRIMARY:
            return user.calendar
        return user.calendars.by_calendar_id(calendar.calendar)

    async def _call(
        self, calendar: CalendarAddress, info: Any, *, on: Target, page_size: int | None = None
    ) -> Any:
        prefer = (*PREFER, f"odata.maxpagesize={page_size}") if page_size else PREFER
        async with self.limits.hold(calendar.owner):
            try:
                return await self.client.send(info, prefer=prefer)
            except Exception as exc:
                error = translate_exception(exc, on=on)
                if error is None:
                    raise
                log.info("graph.call_failed", method=str(info.http_method), error=type(error).__name__)
                raise error from exc


def _get(builder: Any, **query: Any) -> Any:
    """`builder`'s GET with query parameters, through the SDK's own query classes (they know the
    `$`-prefixed names and the encoding)."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    if not query:
        return builder.to_get_request_information()
    parameters = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")(**query)
    return builder.to_get_request_information(RequestConfiguration(query_parameters=parameters))


def _with_marks(item: dict[str, Any], body: dict[str, Any]) -> Fetched:
    """A write's answer with the marks it wrote (Graph does not return them unexpanded)."""
    if "singleValueExtendedProperties" not in item:
        item = {**item, "singleValueExtendedProperties": body.get("singleValueExtendedProperties", [])}
    return fetched_from_graph(item)


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
        id=f"{master.event.id}/cancelled/{key}",
        span=span,
        status=EventStatus.CANCELLED,
        instance_of=InstanceOf(master.event.id, start),
    )
    return Fetched(event=event, version=master.version, updated=master.updated, stamp=master.stamp)


def _same_start(a: datetime | date, b: datetime | date) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b  # aware: compares instants
    if isinstance(a, datetime) or isinstance(b, datetime):
        return False
    return a == b


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Round:
    """What one round of delta pages has seen so far."""

    series: set[str] = field(default_factory=set)  # masters read this round (once each)
    removed: int = 0  # removals a GET confirmed


_shared_limits: MailboxLimits | None = None


def open_graph(connection: Connection) -> GraphCalendar:
    """The registry's opener for a stored Graph connection. Every Graph adapter of the process
    shares one MailboxLimits: Outlook counts requests per app and mailbox, not per adapter."""
    global _shared_limits
    if not isinstance(connection, GraphConnection):
        raise ProviderError(f"not a Graph connection: {connection.provider}")
    settings = get_settings()
    if _shared_limits is None:
        _shared_limits = MailboxLimits(settings.graph_mailbox_concurrency)
    return GraphCalendar.connect(
        connection.tenant_id,
        connection.client_id,
        connection.client_secret,
        authority=connection.authority,
        graph_url=connection.graph_url,
        ca_file=connection.ca_file,
        **graph_options(settings, _shared_limits),
    )


register(Provider.GRAPH, open_graph)
