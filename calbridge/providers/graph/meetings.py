"""A person's Outlook meetings and automatic-reply state through Microsoft Graph, with the
adapters' `GraphClient` and `GraphMailbox` (per-mailbox cap, error translation).

- Meetings: `calendarView` (series expanded into occurrences) with the translator's `$select`
  and calbridge's marks `$expand`ed, paged through `@odata.nextLink`; times in UTC (`Prefer`).
- Out of office: `GET /users/{id}/mailboxSettings?$select=automaticRepliesSetting` (status
  disabled / alwaysEnabled / scheduled with its span). Application permission
  `MailboxSettings.Read` is needed; Graph sends no change notifications for mailbox settings.
- Mirroring it (`calbridge.meetings.oof_mirror`): `PATCH /users/{id}/mailboxSettings` with the
  automatic reply turned on for a span (scheduled) or off; `MailboxSettings.ReadWrite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calbridge.events import Provider
from calbridge.meetings.oof import graph_time, oof_from_graph
from calbridge.meetings.oof_mirror import Absence
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
# The reply text an automatic reply turned on from Google carries (Google's event has none).
_REPLY_TEXT = {
    "internalReplyMessage": "I am out of the office.",
    "externalReplyMessage": "I am out of the office.",
}


def _when(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


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

    async def _reply(self, address: str) -> dict[str, Any]:
        mailbox = self._mailbox(CalendarAddress(address))
        info = get_request(mailbox.user.mailbox_settings, select=["automaticRepliesSetting"])
        answer: dict[str, Any] = await mailbox.call(info, on="calendar") or {}
        return answer.get("automaticRepliesSetting") or {}

    async def absences(self, address: str, now: datetime) -> list[Absence]:
        setting = await self._reply(address)
        status = str(setting.get("status") or "disabled").lower()
        if status == "alwaysenabled":
            return [Absence(None, None)]
        start, end = (
            graph_time(setting.get("scheduledStartDateTime")),
            graph_time(setting.get("scheduledEndDateTime")),
        )
        if status == "scheduled" and start is not None and end is not None and end > now:
            return [Absence(start, end)]
        return []

    async def put_absence(self, address: str, absence: Absence, pair_id: str) -> str | None:
        if absence.end is None:
            setting: dict[str, Any] = {"status": "alwaysEnabled"}
        else:
            start = absence.start or datetime.now(UTC)
            setting = {
                "status": "scheduled",
                "scheduledStartDateTime": _when(start),
                "scheduledEndDateTime": _when(absence.end),
            }
        await self._patch(address, {**setting, **_REPLY_TEXT})
        return None

    async def clear_absence(self, address: str, absence: Absence) -> None:
        await self._patch(address, {"status": "disabled"})

    async def _patch(self, address: str, setting: dict[str, Any]) -> None:
        mailbox = self._mailbox(CalendarAddress(address))
        info = self._client.request(
            "PATCH", mailbox.user.mailbox_settings, {"automaticRepliesSetting": setting}
        )
        await mailbox.call(info, on="calendar")

    async def aclose(self) -> None:
        await self._client.close()


def open_graph_meetings(
    connection: GraphConnection, *, limits: MailboxLimits, timeout: float = 30.0
) -> GraphMeetingSource:
    """A source over a stored Graph connection, with the sync's own client setup."""
    from calbridge.providers.graph.client import GraphClient

    client = GraphClient.for_connection(connection, timeout=timeout)
    return GraphMeetingSource(client, limits)
