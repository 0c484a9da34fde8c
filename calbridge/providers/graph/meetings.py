"""A person's Outlook meetings and automatic-reply state through Microsoft Graph, with the
adapters' `GraphClient` and `GraphMailbox` (per-mailbox cap, error translation).

- Meetings: `calendarView` (series expanded into occurrences) with the translator's `$select`
  and calbridge's marks `$expand`ed, paged through `@odata.nextLink`; times in UTC (`Prefer`).
- Out of office: `GET /users/{id}/mailboxSettings?$select=automaticRepliesSetting` (status
  disabled / alwaysEnabled / scheduled with its span). Application permission
  `MailboxSettings.Read` is needed; Graph sends no change notifications for mailbox settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from calbridge.events import Provider
from calbridge.meetings.oof import oof_from_graph
from calbridge.meetings.types import Oof
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.graph.mailbox import GraphMailbox, get_request, iso
from calbridge.providers.graph.translate import GRAPH_SELECT, fetched_from_graph
from calbridge.providers.limits import MailboxLimits
from calbridge.translate import stamps

if TYPE_CHECKING:
    from calbridge.providers.graph.client import GraphClient
    from calbridge.providers.graph.connection import GraphConnection

__all__ = ["GraphMeetingSource", "open_graph_meetings"]

PAGE_SIZE = 250
MAX_ROWS = 5000


class GraphMeetingSource:
    def __init__(self, client: GraphClient, limits: MailboxLimits) -> None:
        self._client = client
        self._limits = limits

    @property
    def provider(self) -> Provider:
        return Provider.GRAPH

    def _mailbox(self, calendar: CalendarAddress) -> GraphMailbox:
        return GraphMailbox(self._client, self._limits, calendar)

    async def events(self, calendar: CalendarAddress, start: datetime, end: datetime) -> Sequence[Fetched]:
        mailbox = self._mailbox(calendar)
        view = mailbox.calendar_builder.calendar_view
        info = get_request(
            view,
            start_date_time=iso(start),
            end_date_time=iso(end),
            select=list(GRAPH_SELECT),
            expand=[stamps.graph_expand_marks()],
            top=PAGE_SIZE,
        )
        found: list[Fetched] = []
        async for row in mailbox.rows(view, info, on="calendar"):
            found.append(fetched_from_graph(row))
            if len(found) >= MAX_ROWS:
                break
        return found

    async def oof(self, address: str, now: datetime) -> Oof:
        mailbox = self._mailbox(CalendarAddress(address))
        info = get_request(mailbox.user.mailbox_settings, select=["automaticRepliesSetting"])
        answer: dict[str, Any] = await mailbox.call(info, on="calendar") or {}
        return oof_from_graph(answer.get("automaticRepliesSetting"), now)

    async def aclose(self) -> None:
        await self._client.close()


def open_graph_meetings(
    connection: GraphConnection, *, limits: MailboxLimits, timeout: float = 30.0
) -> GraphMeetingSource:
    """A source over a stored Graph connection, with the sync's own client setup."""
    from calbridge.providers.graph.client import GraphClient

    client = GraphClient(
        connection.tenant_id,
        connection.client_id,
        connection.client_secret,
        authority=connection.authority,
        ca_file=connection.ca_file,
        timeout=timeout,
        graph_url=connection.graph_url,
    )
    return GraphMeetingSource(client, limits)
