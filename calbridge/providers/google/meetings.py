"""A person's Google meetings and out-of-office state, through the adapters' `GoogleClient`.

- Meetings: `events.list` with `timeMin`/`timeMax` and `singleEvents` (series expanded into
  their occurrences), `orderBy=startTime`, paged; translated by the sync's own translator, so
  calbridge's mirror stamps come with each event. Each call acts as the calendar's owner.
- Out of office: Google has no mailbox setting; a person is away while an `outOfOffice` event
  on their primary calendar covers now (`eventTypes=outOfOffice` around now), or, where the
  connection reaches Gmail's settings (`gmail_settings`), while the vacation responder is on.
  Mirrored as such an event, stamped with the pair's id (`calbridgePair`), written with
  `sendUpdates=none`, and the vacation responder turned on for the span (and off) there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from calbridge.errors import NotFound
from calbridge.events import Provider
from calbridge.meetings.oof import combine, oof_from_gmail_vacation, oof_from_google_events
from calbridge.meetings.oof_mirror import Absence
from calbridge.meetings.types import Oof
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.google.translate import fetched_from_google
from calbridge.translate import stamps

if TYPE_CHECKING:
    from calbridge.providers.google.client import GoogleClient
    from calbridge.providers.google.connection import GoogleConnection
    from calbridge.providers.google.gmail import GmailSettings

__all__ = ["GoogleMeetingSource", "open_google_meetings"]

PAGE_SIZE = 250
LOOK_AHEAD = timedelta(days=60)  # absences to come that are mirrored ahead of time


def _instant(value: Any) -> datetime | None:
    if isinstance(value, dict) and value.get("dateTime"):
        return datetime.fromisoformat(str(value["dateTime"]))
    return None


MAX_PAGES = 20  # 5,000 events in one window is more than any person's list shows


class GoogleMeetingSource:
    def __init__(self, client: GoogleClient, gmail: GmailSettings | None = None) -> None:
        self._client = client
        self._gmail = gmail  # the vacation responder, where the connection may reach it

    @property
    def provider(self) -> Provider:
        return Provider.GOOGLE

    async def events(self, calendar: CalendarAddress, start: datetime, end: datetime) -> Sequence[Fetched]:
        items, zone = await self._list(
            calendar.owner,
            calendarId=calendar.calendar,
            timeMin=start.isoformat(),
            timeMax=end.isoformat(),
            singleEvents=True,
            orderBy="startTime",
        )
        return [fetched_from_google(item, default_zone=zone) for item in items]

    async def oof(self, address: str, now: datetime) -> Oof:
        items, _ = await self._list(
            address,
            calendarId="primary",
            timeMin=now.isoformat(),
            timeMax=(now + timedelta(minutes=1)).isoformat(),
            singleEvents=True,
            eventTypes=["outOfOffice"],
        )
        states = [oof_from_google_events(items, now)]
        if self._gmail is not None:
            states.append(oof_from_gmail_vacation(await self._gmail.vacation(address), now))
        return combine(states)

    async def _list(self, subject: str, **query: Any) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        zone = "UTC"
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            request = self._client.events.list(
                maxResults=PAGE_SIZE, **query, **({"pageToken": page_token} if page_token else {})
            )
            answer = await self._client.call(subject, request, on="calendar")
            zone = str(answer.get("timeZone") or zone)
            items.extend(answer.get("items") or [])
            page_token = answer.get("nextPageToken")
            if not page_token:
                break
        return items, zone

    async def absences(self, address: str, now: datetime) -> list[Absence]:
        items, _ = await self._list(
            address,
            calendarId="primary",
            timeMin=now.isoformat(),
            timeMax=(now + LOOK_AHEAD).isoformat(),
            singleEvents=True,
            orderBy="startTime",
            eventTypes=["outOfOffice"],
        )
        found = []
        for item in items:
            start, end = _instant(item.get("start")), _instant(item.get("end"))
            if item.get("status") == "cancelled" or start is None or end is None:
                continue
            private = (item.get("extendedProperties") or {}).get("private") or {}
            found.append(Absence(start, end, str(item["id"]), private.get(stamps.GOOGLE_PAIR_KEY)))
        return found

    async def put_absence(self, address: str, absence: Absence, pair_id: str) -> str | None:
        assert absence.start is not None and absence.end is not None  # the planner gives Google a span
        body = {
            "eventType": "outOfOffice",
            "summary": "Out of office",
            "start": {"dateTime": absence.start.isoformat()},
            "end": {"dateTime": absence.end.isoformat()},
            "transparency": "opaque",
            "outOfOfficeProperties": {"autoDeclineMode": "declineNone"},
            "extendedProperties": {
                "private": {stamps.GOOGLE_PAIR_KEY: pair_id, stamps.GOOGLE_SOURCE_KEY: "oof"}
            },
        }
        events = self._client.events
        if absence.event_id:
            request = events.patch(
                calendarId="primary", eventId=absence.event_id, body=body, sendUpdates="none"
            )
        else:
            request = events.insert(calendarId="primary", body=body, sendUpdates="none")
        item = await self._client.call(address, request, on="calendar")
        if self._gmail is not None:
            await self._gmail.set_vacation(
                address,
                {
                    "enableAutoReply": True,
                    "responseSubject": "Out of office",
                    "responseBodyPlainText": "I am out of the office.",
                    "startTime": str(int(absence.start.timestamp() * 1000)),
                    "endTime": str(int(absence.end.timestamp() * 1000)),
                },
            )
        return str(item["id"])

    async def clear_absence(self, address: str, absence: Absence) -> None:
        if self._gmail is not None:
            await self._gmail.set_vacation(address, {"enableAutoReply": False})
        if not absence.event_id:
            return
        request = self._client.events.delete(
            calendarId="primary", eventId=absence.event_id, sendUpdates="none"
        )
        with contextlib.suppress(NotFound):  # already gone
            await self._client.call(address, request, on="event")

    async def aclose(self) -> None:
        self._client.close()


def open_google_meetings(
    connection: GoogleConnection, *, threads: int = 8, timeout: float = 30.0
) -> GoogleMeetingSource:
    """A source over a stored Google connection, with the sync's own client setup."""
    from calbridge.providers.google.client import GoogleClient
    from calbridge.providers.google.gmail import GmailSettings, gmail_endpoint

    client = GoogleClient.for_connection(connection, threads=threads, timeout=timeout)
    gmail = None
    if connection.gmail_settings:
        gmail = GmailSettings(
            client,
            connection.service_account_info(),
            api_endpoint=gmail_endpoint(connection.api_endpoint),
            ca_file=connection.ca_file,
            timeout=timeout,
        )
    return GoogleMeetingSource(client, gmail)
