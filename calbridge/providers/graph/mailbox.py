"""One Graph calendar's I/O primitives, shared by the adapter's reading and writing modules:
a call under the mailbox's concurrency cap with errors translated, a GET with the mirror marks,
and paging through `@odata.nextLink`.

With a `Pacing`, a throttled call waits as Outlook asks and is made again (per mailbox: Outlook
throttles per app and mailbox), and waits outside the concurrency cap, holding no slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from calbridge.errors import AccessDenied, NotFound, Target
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.client import PREFER, GraphClient
from calbridge.providers.graph.errors import request_id, translate_exception
from calbridge.providers.graph.labels import is_known_zone
from calbridge.providers.graph.marks import KnownMarks
from calbridge.providers.graph.translate import GRAPH_SELECT
from calbridge.providers.limits import MailboxLimits
from calbridge.providers.pacing import Pacing
from calbridge.translate import stamps
from calbridge.translate.zones import to_iana

__all__ = ["GraphMailbox", "get_request", "iso"]

log = structlog.get_logger("calbridge.providers.graph.adapter")

PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class GraphMailbox:
    client: GraphClient
    limits: MailboxLimits
    calendar: CalendarAddress
    marks: KnownMarks | None = None  # the adapter's memo of marks by version (`graph_marks`)
    pacing: Pacing | None = None  # the process's throttle gates (`calbridge.providers.pacing`)
    zones: dict[str, str | None] | None = None  # the adapter's memo of owners' zones (`home_zone`)

    async def home_zone(self) -> str | None:
        """The IANA zone of the owner's mailbox (`mailboxSettings.timeZone`), read once per
        adapter; None when the app may not read it (MailboxSettings.Read is not granted) or it
        names no zone. It names the zone of events Outlook labels with a custom zone."""
        owner = self.calendar.owner
        if self.zones is not None and owner in self.zones:
            return self.zones[owner]
        try:
            answer = await self.call(self.user.mailbox_settings.to_get_request_information(), on="event")
        except (AccessDenied, NotFound):
            answer = None
        name = answer.get("timeZone") if isinstance(answer, dict) else None
        zone = to_iana(name) if is_known_zone(name) else None
        if self.zones is not None:
            self.zones[owner] = zone
        return zone

    @property
    def user(self) -> Any:
        return self.client.user(self.calendar.owner)

    @property
    def calendar_builder(self) -> Any:
        """The calendar's request builder: the default calendar for `primary`."""
        if self.calendar.calendar == PRIMARY:
            return self.user.calendar
        return self.user.calendars.by_calendar_id(self.calendar.calendar)

    def event(self, event_id: str) -> Any:
        return self.user.events.by_event_id(event_id)

    async def call(self, info: Any, *, on: Target, page_size: int | None = None) -> Any:
        if self.pacing is None:
            return await self._call_once(info, on, page_size)
        return await self.pacing.call(
            "graph", self.calendar.owner, lambda: self._call_once(info, on, page_size)
        )

    async def _call_once(self, info: Any, on: Target, page_size: int | None) -> Any:
        prefer = (*PREFER, f"odata.maxpagesize={page_size}") if page_size else PREFER
        async with self.limits.hold(self.calendar.owner):
            try:
                return await self.client.send(info, prefer=prefer)
            except Exception as exc:
                error = translate_exception(exc, on=on)
                if error is None:
                    raise
                log.info(
                    "graph.call_failed",
                    method=str(info.http_method),
                    error=type(error).__name__,
                    reason=str(error),
                    request_id=request_id(exc),
                )
                raise error from exc

    async def read(self, event_id: str) -> dict[str, Any] | None:
        """The event with its mirror marks and the properties the translator reads (its
        `originalStart` among them); None when it does not exist."""
        try:
            info = get_request(
                self.event(event_id), select=list(GRAPH_SELECT), expand=[stamps.graph_expand_marks()]
            )
            item: dict[str, Any] = await self.call(info, on="event")
        except NotFound:
            return None
        if self.marks is not None:
            self.marks.note(item)
        return item

    async def rows(self, builder: Any, info: Any, *, on: Target) -> AsyncIterator[dict[str, Any]]:
        """Every row of a listing, following `@odata.nextLink` with the same builder."""
        while True:
            page = await self.call(info, on=on)
            for row in page.get("value") or []:
                yield row
            link = page.get("@odata.nextLink")
            if not link:
                return
            info = builder.with_url(link).to_get_request_information()


def get_request(builder: Any, **query: Any) -> Any:
    """`builder`'s GET with query parameters, through the SDK's own query classes (they know the
    `$`-prefixed names and the encoding)."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    if not query:
        return builder.to_get_request_information()
    parameters = getattr(type(builder), f"{type(builder).__name__}GetQueryParameters")(**query)
    return builder.to_get_request_information(RequestConfiguration(query_parameters=parameters))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
