"""The Google Calendar adapter: `CalendarProvider` over google-api-python-client.

- Every call impersonates the calendar's owner (domain-wide delegation) and runs in the
  client's bounded thread pool (`google_client`).
- `changes` is Google's sync-token protocol: events.list with the stored `syncToken` (or a full
  listing with deleted entries), paged to the end; the last page's `nextSyncToken` is the cursor.
  An expired token (410 fullSyncRequired) raises CursorExpired.
- A mirror's id is derived from its stamp (`mirror_id`), so a create retried after a lost
  response meets a 409 and adopts the event it already made instead of making a second one.
- Every write says `sendUpdates=none` and, but for a Meet a keyword asked for (a
  `createRequest`, conferenceDataVersion=1), `conferenceDataVersion=0`: a sync never mails
  anyone, never creates a conference unasked, and leaves an event's conference as it is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import structlog

from calbridge.errors import AccessDenied, AlreadyExists, NotFound, ProviderError, Target
from calbridge.events import Provider
from calbridge.model import Event, MeetingProvider
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, Change, ChangePage, Fetched, MirrorStamp, Removed
from calbridge.providers.budget import QuotaGate
from calbridge.providers.google.client import GoogleClient
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.google.translate import email_overrides, fetched_from_google, google_body
from calbridge.providers.pacing import Pacing
from calbridge.settings import Settings
from calbridge.translate import stamps

__all__ = ["GoogleCalendar", "change_from_item", "google_options", "instance_id", "mirror_id", "open_google"]

log = structlog.get_logger(__name__)

_WRITE = {"sendUpdates": "none", "conferenceDataVersion": 0}
_WRITE_CONFERENCE = {"sendUpdates": "none", "conferenceDataVersion": 1}


def _write_options(body: dict[str, Any]) -> dict[str, Any]:
    """conferenceDataVersion=1 only for a body that asks for a Meet (its createRequest); 0
    otherwise, which leaves an event's conference as it is."""
    return _WRITE_CONFERENCE if "conferenceData" in body else _WRITE


_WRITER_ROLES = frozenset({"writer", "owner"})


def mirror_id(stamp: MirrorStamp) -> str:
    """The Google event id of the mirror carrying `stamp`: base32hex (lowercase `0-9a-v`, as
    Google requires) of a hash of pairing (or, for a stamp without one, pair) and source, 52
    characters, the same on every retry and for every pair ever made between the same two
    calendars (a re-added pair meets the mirror the earlier one made)."""
    key = stamp.pairing or stamp.pair_id
    digest = hashlib.sha256(f"{key}\x00{stamp.source_id}".encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def change_from_item(item: dict[str, Any], default_zone: str) -> Change:
    """One events.list item as a change: a tombstone with nothing but its id is Removed; a
    cancelled instance (it names its series and original start) stays a cancelled Fetched."""
    if item.get("status") == "cancelled" and "start" not in item and not item.get("recurringEventId"):
        return Removed(item["id"])
    return fetched_from_google(item, default_zone=default_zone)


def instance_id(master_id: str, original_start: datetime | date) -> str:
    """Google's id of one occurrence: the series id and the original start, in UTC for a timed
    series (`_20261022T080000Z`) or as a date for an all-day one (`_20261022`)."""
    if isinstance(original_start, datetime):
        return f"{master_id}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{master_id}_{original_start:%Y%m%d}"


def _own_body(event: Event) -> dict[str, Any]:
    """What a write back to a person's own event carries: the event's fields, no stamp, no facts,
    and nothing that would replace their guests or conference."""
    meeting = event.online_meeting
    native = meeting is not None and meeting.provider is MeetingProvider.GOOGLE_MEET
    body = google_body(event, MirrorStamp("", ""), detail=Detail.FULL, guests=True, link=not native)
    for key in ("extendedProperties", "attendees", "guestsCanInviteOthers", "recurrence"):
        body.pop(key, None)
    body.setdefault("location", "")  # a patch: a location taken away (a keyword, an edit) must go
    if event.recurrence is not None and event.instance_of is None:
        body["recurrence"] = list(event.recurrence.rules)
    return body


class GoogleCalendar:
    """Google calendars of one Workspace domain, reached through one service account."""

    provider = Provider.GOOGLE

    def __init__(self, client: GoogleClient, *, page_size: int = 250) -> None:
        self.client = client
        self._page_size = page_size
        self._zones: dict[tuple[str, str], str] = {}

    @classmethod
    def connect(
        cls,
        service_account_info: dict[str, Any],
        *,
        api_endpoint: str | None = None,
        token_uri: str | None = None,
        ca_file: str | None = None,
        threads: int = 8,
        timeout: float = 30.0,
        page_size: int = 250,
        pacing: Pacing | None = None,
    ) -> GoogleCalendar:
        client = GoogleClient(
            service_account_info,
            api_endpoint=api_endpoint,
            token_uri=token_uri,
            ca_file=ca_file,
            threads=threads,
            timeout=timeout,
            pacing=pacing,
        )
        return cls(client, page_size=page_size)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    async def check_access(self, calendar: CalendarAddress) -> None:
        answer = await self._call(
            calendar, self.client.events.list(calendarId=calendar.calendar, maxResults=1), on="calendar"
        )
        self._remember_zone(calendar, answer)
        role = answer.get("accessRole")
        if role not in _WRITER_ROLES:
            raise AccessDenied(f"google calendar access role is {role!r}; writer or owner is needed")

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        query: dict[str, Any] = {
            "calendarId": calendar.calendar,
            "maxResults": self._page_size,
            "showDeleted": True,
            "singleEvents": False,
        }
        if cursor is not None:
            query["syncToken"] = cursor
        page_token: str | None = None
        while True:
            request = self.client.events.list(**query, **({"pageToken": page_token} if page_token else {}))
            answer = await self._call(calendar, request, on="listing")
            zone = self._remember_zone(calendar, answer)
            items = answer.get("items") or []
            changes = tuple(change_from_item(item, zone) for item in items)
            page_token = answer.get("nextPageToken")
            if page_token:
                yield ChangePage(changes, None)
                continue
            next_cursor = answer.get("nextSyncToken")
            if not next_cursor:
                raise ProviderError("google listing ended without a nextSyncToken")
            yield ChangePage(changes, next_cursor)
            return

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        try:
            item = await self._call(
                calendar, self.client.events.get(calendarId=calendar.calendar, eventId=event_id), on="event"
            )
        except NotFound:
            return None
        return await self._fetched(calendar, item)

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        found = await self.get(calendar, mirror_id(stamp))
        if found is not None and stamp.matches(found.stamp) and not found.event.cancelled:
            return found
        # A mirror made under another id (an instance, an older writer, an earlier pair of the
        # same calendars): every mirror of the source, then the one whose stamp matches.
        request = self.client.events.list(
            calendarId=calendar.calendar,
            privateExtendedProperty=stamps.google_stamp_filters(stamp),
            maxResults=50,
            singleEvents=False,
        )
        answer = await self._call(calendar, request, on="calendar")
        zone = self._remember_zone(calendar, answer)
        for item in answer.get("items") or []:
            fetched = fetched_from_google(item, default_zone=zone)
            if stamp.matches(fetched.stamp) and not fetched.event.cancelled:
                return fetched
        return None

    # -- writing ------------------------------------------------------------------------------

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        if event.instance_of is not None:
            return await self._write_occurrence(calendar, event, stamp)
        if stamp is None:  # not a mirror: nothing to be idempotent by
            own = _own_body(event)
            request = self.client.events.insert(calendarId=calendar.calendar, body=own, **_write_options(own))
            return await self._fetched(calendar, await self._call(calendar, request, on="calendar"))
        event_id = mirror_id(stamp)
        body = {**google_body(event, stamp, detail=Detail.FULL), "id": event_id}
        request = self.client.events.insert(calendarId=calendar.calendar, body=body, **_write_options(body))
        try:
            item = await self._call(calendar, request, on="calendar")
        except AlreadyExists:
            return await self._adopt(calendar, event_id, body, stamp)
        return await self._fetched(calendar, item)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        if stamp is None:
            return await self._merge(calendar, event_id, _own_body(event))
        return await self._replace(calendar, event_id, google_body(event, stamp, detail=Detail.FULL))

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        request = self.client.events.delete(
            calendarId=calendar.calendar, eventId=event_id, sendUpdates="none"
        )
        await self._call(calendar, request, on="event")

    async def _adopt(
        self, calendar: CalendarAddress, event_id: str, body: dict[str, Any], stamp: MirrorStamp
    ) -> Fetched:
        """The id is taken: an earlier attempt of this create made it (its answer was lost), or
        the mirror was deleted and its tombstone holds the id. Either way write the intended
        content onto it (which also restores a tombstone), as for a mirror an earlier pair of the
        same two calendars made; an event with another stamp is not ours."""
        existing = await self.get(calendar, event_id)
        if existing is None:
            raise AlreadyExists(f"google event id {event_id} is taken but cannot be read")
        theirs = existing.stamp
        foreign = not stamp.matches(theirs) if theirs is not None else not existing.event.cancelled
        if foreign:
            raise AlreadyExists(f"google event id {event_id} belongs to another event")
        log.info("google.create_adopted", event_id=event_id, was_cancelled=existing.event.cancelled)
        return await self._replace(calendar, event_id, {**body, "status": body.get("status", "confirmed")})

    async def _write_occurrence(
        self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        """Change (or, cancelled, remove) one occurrence of a series on this calendar. Google names
        an occurrence by its series and original start, so its id is known without a lookup."""
        assert event.instance_of is not None
        event_id = instance_id(event.instance_of.master_id, event.instance_of.original_start)
        if event.cancelled:
            # Already cancelled is what was wanted (a missing series 404s below).
            with contextlib.suppress(NotFound):
                await self.delete(calendar, event_id)
            found = await self.get(calendar, event_id)
            if found is None:
                raise NotFound("google series or occurrence not found")
            return found
        if stamp is None:
            return await self._merge(calendar, event_id, _own_body(event))
        body = google_body(event, stamp, detail=Detail.FULL)
        body.pop("recurrence", None)
        return await self._replace(calendar, event_id, body)

    async def _merge(self, calendar: CalendarAddress, event_id: str, body: dict[str, Any]) -> Fetched:
        # A person's own event: patch only what the sync carries, keep their guests, conference
        # and properties (a PUT would drop them), and their e-mail reminders, which an Event does
        # not carry and a patch of `reminders.overrides` would replace.
        overrides = (body.get("reminders") or {}).get("overrides")
        if overrides is not None:
            current = await self._call(
                calendar, self.client.events.get(calendarId=calendar.calendar, eventId=event_id), on="event"
            )
            kept = email_overrides(current)
            if kept:
                body = {**body, "reminders": {"useDefault": False, "overrides": [*overrides, *kept][:5]}}
        request = self.client.events.patch(
            calendarId=calendar.calendar, eventId=event_id, body=body, **_write_options(body)
        )
        return await self._fetched(calendar, await self._call(calendar, request, on="event"))

    async def _replace(self, calendar: CalendarAddress, event_id: str, body: dict[str, Any]) -> Fetched:
        # update (PUT), not patch: the whole mirror is ours, and a field the new body leaves out
        # (a description a busy block no longer shows) must go.
        body = {key: value for key, value in body.items() if key != "id"}
        request = self.client.events.update(
            calendarId=calendar.calendar, eventId=event_id, body=body, **_write_options(body)
        )
        item = await self._call(calendar, request, on="event")
        return await self._fetched(calendar, item)

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(self, calendar: CalendarAddress, request: Any, *, on: Target) -> Any:
        return await self.client.call(calendar.owner, request, on=on)

    async def _fetched(self, calendar: CalendarAddress, item: dict[str, Any]) -> Fetched:
        return fetched_from_google(item, default_zone=await self._zone(calendar, item))

    async def _zone(self, calendar: CalendarAddress, item: dict[str, Any]) -> str:
        """The calendar's zone, needed only when an event names none of its own."""
        start = item.get("start") or item.get("originalStartTime") or {}
        if start.get("timeZone") or "dateTime" not in start:
            return str(start.get("timeZone") or "UTC")
        key = (calendar.owner, calendar.calendar)
        if key not in self._zones:
            answer = await self._call(
                calendar, self.client.calendars.get(calendarId=calendar.calendar), on="calendar"
            )
            self._zones[key] = str(answer.get("timeZone") or "UTC")
        return self._zones[key]

    def _remember_zone(self, calendar: CalendarAddress, answer: dict[str, Any]) -> str:
        zone = str(answer.get("timeZone") or "UTC")
        self._zones[(calendar.owner, calendar.calendar)] = zone
        return zone


def open_google(
    connection: GoogleConnection, settings: Settings, quota: QuotaGate | None = None
) -> GoogleCalendar:
    """The adapter for a stored Google connection, tuned by the process's settings; its calls
    spend `quota` (the project's, shared with the other replicas) when given."""
    return GoogleCalendar.connect(
        connection.service_account_info(),
        api_endpoint=connection.api_endpoint,
        token_uri=connection.token_uri,
        ca_file=connection.ca_file,
        **google_options(settings, quota),
    )


def google_options(settings: Settings, quota: QuotaGate | None = None) -> dict[str, Any]:
    """`GoogleCalendar.connect`'s tuning knobs as the settings give them, with the adapter's
    throttle gates (`calbridge.providers.pacing`: one per user it calls) over `quota`."""
    return {
        "threads": settings.google_threads,
        "timeout": settings.provider_timeout,
        "pacing": Pacing(settings.throttle_patience, quota=quota),
    }
