"""The Microsoft Graph adapter: `CalendarProvider` over msgraph-sdk (raw JSON, see `graph_client`).

- `changes` is the delta feed (`graph_feed`): calendarView delta over a window of `past` and
  `ahead` around now.
- Creates carry a `transactionId` derived from the stamp, so a retried POST returns the event the
  first one made; mirrors never have attendees, so no write mails anyone.
- Occurrence changes (`create` with `instance_of`) find the occurrence by its original start,
  since Graph's occurrence ids are opaque: the series' instances are listed with `$select`
  (`GRAPH_SELECT`), as Graph says `originalStart` only when asked.
- At most `MailboxLimits.per_mailbox` requests per mailbox are in flight (Outlook allows 4).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calbridge.errors import AccessDenied, NotFound
from calbridge.events import Provider
from calbridge.model import Event, EventStatus, InstanceOf, MeetingProvider
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, ChangePage, Fetched, MirrorStamp
from calbridge.providers.budget import QuotaGate
from calbridge.providers.graph.client import GraphClient
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.graph.feed import (
    CANCELLED_MARK,
    TRANSACTION_PREFIX,
    DeltaWindow,
    item_zone,
    labelled_zone,
    list_instances,
    read_changes,
    series_zone,
)
from calbridge.providers.graph.labels import needs_series_zone
from calbridge.providers.graph.mailbox import PRIMARY, GraphMailbox, get_request
from calbridge.providers.graph.marks import KnownMarks
from calbridge.providers.graph.translate import GRAPH_SELECT, fetched_from_graph, graph_body
from calbridge.providers.limits import MailboxLimits
from calbridge.providers.pacing import Pacing
from calbridge.settings import Settings
from calbridge.translate import stamps

__all__ = ["GraphCalendar", "graph_options", "open_graph", "source_filter", "transaction_id"]


def transaction_id(stamp: MirrorStamp) -> str:
    """The `transactionId` of the mirror carrying `stamp`: the same on every retry.

    Made of the pair id, not the pairing: Exchange refuses a POST whose transactionId was
    already used for a different event (`ErrorDuplicateTransactionId`), and a pair added again
    writes its mirrors anew. It finds an earlier pair's mirror with `find_mirror` instead."""
    digest = hashlib.sha256(f"{stamp.pair_id}\x00{stamp.source_id}".encode()).hexdigest()
    return f"{TRANSACTION_PREFIX}{digest[:40]}"


def source_filter(stamp: MirrorStamp) -> str:
    """`$filter` for events stamped with this source id. One `Any` clause: Exchange's support for
    several joined by `and` is not documented (the sandbox refuses it); pair and pairing are
    compared on the events that come back (`MirrorStamp.matches`)."""
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
        pacing: Pacing | None = None,
        past: timedelta = timedelta(days=90),
        ahead: timedelta = timedelta(days=400),
        page_size: int = 50,
        all_day_zone: str = "UTC",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.limits = limits or MailboxLimits(4)
        self.pacing = pacing
        self._past, self._ahead = past, ahead
        self._page_size = page_size
        self._all_day_zone = all_day_zone
        self._now = now
        self.marks = KnownMarks()
        self._zones: dict[str, str | None] = {}  # owner -> the mailbox's zone (`home_zone`)

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
            graph_url=graph_url,
        )
        return cls(client, **options)

    async def aclose(self) -> None:
        await self.client.close()

    def _mailbox(self, calendar: CalendarAddress) -> GraphMailbox:
        return GraphMailbox(self.client, self.limits, calendar, self.marks, self.pacing, self._zones)

    # -- reading ------------------------------------------------------------------------------

    async def check_access(self, calendar: CalendarAddress) -> None:
        mailbox = self._mailbox(calendar)
        calendars = mailbox.user.calendars
        async for row in mailbox.rows(calendars, calendars.to_get_request_information(), on="calendar"):
            wanted = row.get("isDefaultCalendar") if calendar.calendar == PRIMARY else row.get("id")
            if wanted is True or wanted == calendar.calendar:
                if not row.get("canEdit", True):
                    raise AccessDenied("the app may read but not write this Outlook calendar")
                return
        raise NotFound("no such calendar in the mailbox")

    def _window(self) -> DeltaWindow:
        now = self._now()
        return (now - self._past, now + self._ahead)

    def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        # A delta link keeps the window it began with.
        return read_changes(self._mailbox(calendar), cursor, self._window(), self._page_size)

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        if CANCELLED_MARK in event_id:
            return None  # a cancelled occurrence (an id `graph_feed` made up): nothing to read
        mailbox = self._mailbox(calendar)
        item = await mailbox.read(event_id)
        if item is None:
            return None
        # A series whose zone Graph names by a label is read in the zone its slots show, as
        # the change feed reads it (`graph_labels`).
        return fetched_from_graph(item, zone=await item_zone(mailbox, item, self._window()))

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        mailbox = self._mailbox(calendar)
        events = mailbox.calendar_builder.events
        info = get_request(
            events,
            filter=source_filter(stamp),
            select=list(GRAPH_SELECT),
            expand=[stamps.graph_expand_marks()],
        )
        async for row in mailbox.rows(events, info, on="calendar"):
            found = fetched_from_graph(row)
            if stamp.matches(found.stamp) and not found.event.cancelled:  # the pairing is checked here
                return found
        return None

    # -- writing ------------------------------------------------------------------------------

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        if event.instance_of is not None:
            return await self._write_occurrence(calendar, event, stamp)
        body = self._body(event, stamp)
        if stamp is not None:
            body["transactionId"] = transaction_id(stamp)
        mailbox = self._mailbox(calendar)
        info = GraphClient.request("POST", mailbox.calendar_builder.events, body)
        return self._written(await mailbox.call(info, on="calendar"), body, stamp, created=True)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        mailbox = self._mailbox(calendar)
        body = self._body(event, stamp)
        if stamp is None and _hosts_teams(event):
            await _keep_teams_text(mailbox, event_id, event, body)
        if "recurrence" in body and await _same_pattern(mailbox, event_id, event, self._window()):
            # Outlook drops a series' exceptions when its pattern is written, even unchanged.
            del body["recurrence"]
        slot = event.instance_of.original_start if event.instance_of is not None else None
        return await self._patch(mailbox, event_id, body, stamp, slot)

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        mailbox = self._mailbox(calendar)
        await mailbox.call(GraphClient.request("DELETE", mailbox.event(event_id)), on="event")

    def _body(self, event: Event, stamp: MirrorStamp | None) -> dict[str, Any]:
        if stamp is not None:
            return graph_body(event, stamp, detail=Detail.FULL, all_day_zone=self._all_day_zone)
        # A person's own event: no stamp or facts, and leave their Teams meeting as it is (its
        # link is shown by Outlook itself: not repeated in the location or the note).
        meeting = event.online_meeting
        native = meeting is not None and meeting.provider is MeetingProvider.TEAMS and not meeting.requested
        body = graph_body(
            event, MirrorStamp("", ""), detail=Detail.FULL, all_day_zone=self._all_day_zone, link=not native
        )
        body.pop("singleValueExtendedProperties", None)
        if not body.get("isOnlineMeeting"):
            body.pop("isOnlineMeeting", None)
        return body

    async def _patch(
        self,
        mailbox: GraphMailbox,
        event_id: str,
        body: dict[str, Any],
        stamp: MirrorStamp | None,
        slot: datetime | date | None = None,
    ) -> Fetched:
        """PATCH; `slot` is the original start of the occurrence written, which Graph's answer
        does not say (no `$select` on a write)."""
        info = GraphClient.request("PATCH", mailbox.event(event_id), body)
        return self._written(await mailbox.call(info, on="event"), body, stamp, created=False, slot=slot)

    def _written(
        self,
        item: dict[str, Any],
        body: dict[str, Any],
        stamp: MirrorStamp | None,
        *,
        created: bool,
        slot: datetime | date | None = None,
    ) -> Fetched:
        marks = body.get("singleValueExtendedProperties")
        if stamp is not None and marks and "singleValueExtendedProperties" not in item:
            # The item now holds exactly the marks its body carried when it is new, or when the
            # PATCH set every mark (one without facts would leave older facts in place).
            ids = {str(mark.get("id")) for mark in marks}
            if created or stamps.GRAPH_FACTS_PROPERTY_ID in ids:
                self.marks.note({**item, "singleValueExtendedProperties": marks})
        return _written(item, body, stamp, slot)

    async def _write_occurrence(
        self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        """Change (or, cancelled, delete) the occurrence of a series that starts at the original
        start. Graph ids of occurrences are opaque: the series' instances are listed around
        that start and matched by `originalStart`."""
        assert event.instance_of is not None
        mailbox = self._mailbox(calendar)
        row = await _find_occurrence(mailbox, event.instance_of)
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
        return await self._patch(mailbox, row["id"], body, stamp, event.instance_of.original_start)


async def _find_occurrence(mailbox: GraphMailbox, instance_of: InstanceOf) -> dict[str, Any] | None:
    """The listed occurrence or exception of this series with this original start (None: none,
    e.g. it was cancelled). A missing series raises NotFound. Only `/instances` hands out an
    occurrence's id, and only a `$select` makes Graph say its `originalStart`."""
    original = instance_of.original_start
    centre = (
        original if isinstance(original, datetime) else datetime.combine(original, datetime.min.time(), UTC)
    )
    for reach in (timedelta(days=2), timedelta(days=40)):  # an exception may have moved far
        rows = await list_instances(mailbox, instance_of.master_id, (centre - reach, centre + reach))
        labelled = bool(rows) and needs_series_zone(rows[0])  # an all-day slot's date needs the zone
        zone = labelled_zone(rows[0], rows, await mailbox.home_zone()) if labelled else None
        for row in rows:
            listed = fetched_from_graph(row, zone=zone).event.instance_of
            if listed is not None and _same_start(listed.original_start, original):
                return dict(row)
    return None


def _hosts_teams(event: Event) -> bool:
    meeting = event.online_meeting
    return meeting is not None and meeting.provider is MeetingProvider.TEAMS and not meeting.requested


async def _keep_teams_text(mailbox: GraphMailbox, event_id: str, event: Event, body: dict[str, Any]) -> None:
    """A person's own Teams meeting written back to: leave its body (with the join block Exchange
    put there, which reading cuts out) and its location as they are unless they changed."""
    current = await mailbox.read(event_id)
    if current is None:
        return
    stored = fetched_from_graph(current).event
    if stored.description == event.description:
        body.pop("body", None)
    if stored.location == event.location:
        body.pop("location", None)


async def _same_pattern(mailbox: GraphMailbox, event_id: str, event: Event, window: DeltaWindow) -> bool:
    """Whether the stored series already has this event's pattern and first start."""
    current = await mailbox.read(event_id)
    if current is None:
        return False
    stored = fetched_from_graph(current, zone=await series_zone(mailbox, current, window)).event
    return stored.recurrence == event.recurrence and stored.span.start == event.span.start


def _written(
    item: dict[str, Any], body: dict[str, Any], stamp: MirrorStamp | None, slot: datetime | date | None
) -> Fetched:
    """A write's answer, with the marks it wrote (Graph does not return them unexpanded) and,
    for an occurrence, the slot it was written at."""
    if stamp is not None and "singleValueExtendedProperties" not in item:
        item = {**item, "singleValueExtendedProperties": body.get("singleValueExtendedProperties", [])}
    return fetched_from_graph(item, original_start=slot)


def _same_start(a: datetime | date, b: datetime | date) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)  # in UTC: a fold=1 time never equals another zone's
    if isinstance(a, datetime) or isinstance(b, datetime):
        return False
    return a == b


def open_graph(
    connection: GraphConnection,
    settings: Settings,
    limits: MailboxLimits | None,
    quota: QuotaGate | None = None,
) -> GraphCalendar:
    """The adapter for a stored Graph connection, tuned by the process's settings. Pass the
    process's one `MailboxLimits` (the registry holds it): Outlook counts requests per app and
    mailbox, not per adapter; its calls spend `quota` (shared with the other replicas) when given."""
    options = graph_options(settings, limits, quota)
    client = GraphClient.for_connection(connection, timeout=options.pop("timeout"))
    return GraphCalendar(client, **options)


def graph_options(
    settings: Settings, limits: MailboxLimits | None = None, quota: QuotaGate | None = None
) -> dict[str, Any]:
    """`GraphCalendar.connect`'s tuning knobs as the settings give them (a cap of its own
    unless `limits` is given, and throttle gates of its own: `calbridge.providers.pacing`)."""
    return {
        "timeout": settings.provider_timeout,
        "limits": limits or MailboxLimits(settings.graph_mailbox_concurrency),
        "pacing": Pacing(settings.throttle_patience, quota=quota),  # throttle gates, per mailbox
        "past": timedelta(days=settings.graph_window_past_days),
        "ahead": timedelta(days=settings.graph_window_ahead_days),
    }
