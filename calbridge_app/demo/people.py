"""The demo's people: each acts on one sandbox calendar through the control API, as a person in
Google Calendar, Outlook or Exchange would (so the provider notifies as for a real edit, and
nothing counts as an API write), and reads back what that calendar shows.

Reading turns each provider's state into `Shown`, provider-neutral, with pure functions
(`seen_from_google`, `seen_from_graph`, `seen_from_ews`) that the tests exercise directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp

from calbridge.translate.stamps import read_google_marks, read_graph_marks
from calbridge_app.demo.runner import Handles
from calbridge_app.demo.scenario import (
    MEET,
    Activity,
    CreateEvent,
    DeleteEvent,
    Edit,
    ListMeetings,
    LookUp,
    MoveOccurrence,
    Shown,
)

__all__ = [
    "ExchangePerson",
    "FreeBusyDesk",
    "GooglePerson",
    "OutlookPerson",
    "seen_from_ews",
    "seen_from_google",
    "seen_from_graph",
]


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.rstrip("Z")[:26] if "." in text else text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wall(value: datetime) -> str:
    """A UTC moment as the wall-clock text Graph and EWS take with an explicit zone."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --- Google


def _google_time(value: Mapping[str, Any]) -> datetime | date:
    if "date" in value:
        return date.fromisoformat(value["date"])
    return datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00")).astimezone(UTC)


def seen_from_google(events: Sequence[Mapping[str, Any]]) -> list[Shown]:
    """Live events of a Google calendar's state; a series' edited occurrences are folded into it."""
    moved: dict[str, list[datetime]] = {}
    for event in events:
        if event.get("recurringEventId") and event.get("status") != "cancelled" and "start" in event:
            start = _google_time(event["start"])
            if isinstance(start, datetime):
                moved.setdefault(str(event["recurringEventId"]), []).append(start)
    out = []
    for event in events:
        if event.get("status") == "cancelled" or event.get("recurringEventId") or "start" not in event:
            continue
        stamp, _ = read_google_marks(dict(event))
        conference = " ".join(
            str(point.get("uri", "")) for point in (event.get("conferenceData") or {}).get("entryPoints", [])
        )
        show_as = "free" if event.get("transparency") == "transparent" else "busy"
        if event.get("eventType") == "outOfOffice":
            show_as = "oof"
        out.append(
            Shown(
                id=str(event["id"]),
                title=str(event.get("summary", "")),
                start=_google_time(event["start"]),
                end=_google_time(event["end"]),
                all_day="date" in event["start"],
                show_as=show_as,
                recurring=bool(event.get("recurrence")),
                moved_occurrences=tuple(sorted(moved.get(str(event["id"]), []))),
                text=" ".join(
                    filter(
                        None, [str(event.get("location", "")), str(event.get("description", "")), conference]
                    )
                ),
                source=stamp.source_id if stamp else None,
                pair=stamp.pair_id if stamp else None,
            )
        )
    return out


def _google_body(action: CreateEvent, base: datetime) -> dict[str, Any]:
    if action.all_day:
        body: dict[str, Any] = {
            "summary": action.title,
            "start": {"date": action.start.date(base).isoformat()},
            "end": {"date": action.end.date(base).isoformat()},
        }
    else:
        body = {
            "summary": action.title,
            "start": {"dateTime": _iso(action.start.resolve(base)), "timeZone": "UTC"},
            "end": {"dateTime": _iso(action.end.resolve(base)), "timeZone": "UTC"},
        }
    if action.description:
        body["description"] = action.description
    if action.location:
        body["location"] = action.location
    if action.weekly:
        body["recurrence"] = [f"RRULE:FREQ=WEEKLY;COUNT={action.weekly}"]
    if action.meet:
        code = MEET.rsplit("/", 1)[1]
        body["conferenceData"] = {
            "conferenceId": code,
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "entryPoints": [{"entryPointType": "video", "uri": MEET, "label": MEET.split("//", 1)[1]}],
        }
        body["hangoutLink"] = MEET
    if action.out_of_office:
        body["eventType"] = "outOfOffice"
        body["transparency"] = "opaque"
    if action.guests:
        body["attendees"] = [
            {"email": address, **({"resource": True} if address.startswith("room") else {})}
            for address in action.guests
        ]
    return body


def _json_changes(
    action: Edit | MoveOccurrence, base: datetime, *, title_field: str, clock: Callable[[datetime], str]
) -> dict[str, Any]:
    """A person's edit as JSON changes, as Google and Graph both take them (their title fields
    and time formats differ)."""
    changes: dict[str, Any] = {}
    if isinstance(action, Edit) and action.title is not None:
        changes[title_field] = action.title
    if action.start is not None and action.end is not None:
        changes["start"] = {"dateTime": clock(action.start.resolve(base)), "timeZone": "UTC"}
        changes["end"] = {"dateTime": clock(action.end.resolve(base)), "timeZone": "UTC"}
    return changes


class GooglePerson:
    """A person in Google Calendar, through `sandbox.client.SandboxControl`."""

    def __init__(self, control: Any, calendar_id: str, name: str) -> None:
        self._google = control.google
        self._calendar_id = calendar_id
        self._name = name  # the calendar's name in the scenario

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        if isinstance(action, CreateEvent):
            created = await self._google.create_event(self._calendar_id, _google_body(action, base))
            return str(created["id"])
        assert not isinstance(action, LookUp | ListMeetings)
        event_id = handles.id_on(action.key, self._name)
        if isinstance(action, DeleteEvent):
            await self._google.delete_event(self._calendar_id, event_id)
        else:
            changes = _json_changes(action, base, title_field="summary", clock=_iso)
            if isinstance(action, MoveOccurrence):
                # Google's instance ids are the series id and the original start in UTC.
                original = action.original.resolve(base).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
                event_id = f"{event_id}_{original}"
            await self._google.edit_event(self._calendar_id, event_id, changes)
        return None

    async def look(self) -> list[Shown]:
        state = await self._google.calendar(self._calendar_id)
        return seen_from_google(state["events"])


# --- Outlook (Microsoft Graph)


def _graph_time(value: Mapping[str, Any], all_day: bool) -> datetime | date:
    moment = _utc(str(value["dateTime"]))
    return moment.date() if all_day else moment


def _graph_seen(item: Mapping[str, Any], moved: tuple[datetime, ...] = ()) -> Shown:
    all_day = bool(item.get("isAllDay"))
    stamp, _ = read_graph_marks(dict(item))
    body = (item.get("body") or {}).get("content", "")
    join = (item.get("onlineMeeting") or {}).get("joinUrl") or item.get("onlineMeetingUrl") or ""
    return Shown(
        id=str(item["id"]),
        title=str(item.get("subject") or ""),
        start=_graph_time(item["start"], all_day),
        end=_graph_time(item["end"], all_day),
        all_day=all_day,
        show_as=str(item.get("showAs") or "busy"),
        recurring=item.get("recurrence") is not None,
        moved_occurrences=moved,
        text=" ".join(
            filter(None, [str((item.get("location") or {}).get("displayName") or ""), str(body), str(join)])
        ),
        source=stamp.source_id if stamp else None,
        pair=stamp.pair_id if stamp else None,
    )


def seen_from_graph(state: Mapping[str, Any]) -> list[Shown]:
    """The events of a Graph calendar's control state (immutable ids, every property)."""
    out = []
    for item in state.get("events", []):
        if item.get("isCancelled"):
            continue
        moved = tuple(
            sorted(_utc(str(e["start"]["dateTime"])) for e in item.get("exceptions", []) if "start" in e)
        )
        out.append(_graph_seen(item, moved))
    return out


def _graph_body(action: CreateEvent, base: datetime) -> dict[str, Any]:
    if action.all_day:
        start = datetime.combine(action.start.date(base), datetime.min.time())
        end = datetime.combine(action.end.date(base), datetime.min.time())
    else:
        start, end = action.start.resolve(base), action.end.resolve(base)
    body: dict[str, Any] = {
        "subject": action.title,
        "start": {"dateTime": _wall(start), "timeZone": "UTC"},
        "end": {"dateTime": _wall(end), "timeZone": "UTC"},
        "isAllDay": action.all_day,
    }
    if action.description:
        body["body"] = {"contentType": "text", "content": action.description}
    if action.location:
        body["location"] = {"displayName": action.location}
    if action.out_of_office:
        body["showAs"] = "oof"
    if action.guests:
        body["attendees"] = [
            {"emailAddress": {"address": a}, "type": "resource" if a.startswith("room") else "required"}
            for a in action.guests
        ]
    if action.weekly:
        first = action.start.resolve(base)
        body["recurrence"] = {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A").lower()]},
            "range": {
                "type": "numbered",
                "startDate": first.date().isoformat(),
                "numberOfOccurrences": action.weekly,
            },
        }
    return body


class OutlookPerson:
    """A person in Outlook, through `sandbox.graph.client.GraphControl`."""

    def __init__(self, graph: Any, user: str, calendar_id: str, name: str) -> None:
        self._graph = graph
        self._user = user
        self._calendar_id = calendar_id
        self._name = name

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        if isinstance(action, CreateEvent):
            created = await self._graph.create_event(self._user, _graph_body(action, base), self._calendar_id)
            return str(created["id"])
        assert not isinstance(action, LookUp | ListMeetings)
        event_id = handles.id_on(action.key, self._name)
        if isinstance(action, DeleteEvent):
            await self._graph.delete_event(self._user, event_id)
        else:
            changes = _json_changes(action, base, title_field="subject", clock=_wall)
            if isinstance(action, MoveOccurrence):
                # Outlook's occurrence ids are opaque: the person picks the occurrence by its
                # original start, as in Outlook itself.
                original = _iso(action.original.resolve(base))
                await self._graph.update_occurrence(self._user, event_id, original, changes)
            else:
                await self._graph.update_event(self._user, event_id, changes)
        return None

    async def look(self) -> list[Shown]:
        return seen_from_graph(await self._graph.calendar_state(self._user, self._calendar_id))


# --- Exchange (EWS)


def _ews_time(text: str, all_day: bool) -> datetime | date:
    moment = _utc(text)
    return moment.date() if all_day else moment


def seen_from_ews(items: Sequence[Mapping[str, Any]]) -> list[Shown]:
    out = []
    for item in items:
        if not item.get("start") or not item.get("end"):
            continue
        props = {str(k): v for k, v in (item.get("extended_properties") or {}).items()}
        source = next((v for k, v in props.items() if "calbridgeSource" in k), None)
        pair = next((v for k, v in props.items() if "calbridgePair" in k), None)
        all_day = bool(item.get("is_all_day"))
        free_busy = str(item.get("free_busy") or "Busy")
        out.append(
            Shown(
                id=str(item["id"]),
                title=str(item.get("subject") or ""),
                start=_ews_time(str(item["start"]), all_day),
                end=_ews_time(str(item["end"]), all_day),
                all_day=all_day,
                show_as={"OOF": "oof", "Free": "free", "Tentative": "tentative"}.get(free_busy, "busy"),
                recurring=bool(item.get("recurring")),
                source=source,
                pair=pair,
            )
        )
    return out


class ExchangePerson:
    """A person in Outlook on Exchange, through `sandbox.ews.control.EwsControlClient` (blocking,
    so each call runs in a thread)."""

    def __init__(self, client: Any, mailbox: str, name: str) -> None:
        self._client = client
        self._mailbox = mailbox
        self._name = name

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        if isinstance(action, CreateEvent):
            created = await asyncio.to_thread(
                self._client.create_item,
                self._mailbox,
                subject=action.title,
                start=_iso(action.start.resolve(base)),
                end=_iso(action.end.resolve(base)),
                is_all_day=action.all_day,
                free_busy="OOF" if action.out_of_office else "Busy",
            )
            return str(created["id"])
        assert not isinstance(action, LookUp | ListMeetings)
        event_id = handles.id_on(action.key, self._name)
        if isinstance(action, Edit):
            fields: dict[str, Any] = {}
            if action.title is not None:
                fields["subject"] = action.title
            if action.start is not None and action.end is not None:
                fields["start"] = _iso(action.start.resolve(base))
                fields["end"] = _iso(action.end.resolve(base))
            await asyncio.to_thread(self._client.edit_item, self._mailbox, event_id, **fields)
        elif isinstance(action, DeleteEvent):
            await asyncio.to_thread(self._client.delete_item, self._mailbox, event_id)
        else:
            raise NotImplementedError("the demo moves occurrences in Google and Outlook only")
        return None

    async def look(self) -> list[Shown]:
        return seen_from_ews(await asyncio.to_thread(self._client.calendar, self._mailbox))


# --- the free/busy API


def seen_from_freebusy(answer: Mapping[str, Any], address: str) -> list[Shown]:
    """Busy blocks of one address in a `POST /v1/freebusy` answer, as `Shown` spans."""
    result = (answer.get("results") or {}).get(address.lower()) or {}
    return [
        Shown(
            id=f"busy-{n}",
            title=str(block.get("status", "busy")),
            start=datetime.fromisoformat(block["start"]).astimezone(UTC),
            end=datetime.fromisoformat(block["end"]).astimezone(UTC),
            show_as=str(block.get("status", "busy")),
        )
        for n, block in enumerate(result.get("busy", []))
    ]


class FreeBusyDesk:
    """Someone asking the free/busy API on the receiver; every look asks again."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        self._session = session
        self._url = url
        self._key = key
        self._query: dict[str, Any] | None = None
        self._address = ""

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        assert isinstance(action, LookUp)
        self._address = action.address
        self._query = {
            "start": _iso(action.start.resolve(base)),
            "end": _iso(action.end.resolve(base)),
            "timeZone": "UTC",
            "addresses": [action.address],
        }
        await self.look()
        return None

    async def look(self) -> list[Shown]:
        if self._query is None:
            return []
        headers = {"Authorization": f"Bearer {self._key}"}
        async with self._session.post(self._url, json=self._query, headers=headers) as answer:
            answer.raise_for_status()
            return seen_from_freebusy(await answer.json(), self._address)


# --- the meeting list


def seen_from_meetings(answer: Mapping[str, Any]) -> list[Shown]:
    """The meetings of a `GET /v1/meetings` answer as `Shown` entries (the join link as text)."""
    return [
        Shown(
            id=f"meeting-{n}",
            title=str(meeting.get("title", "")),
            start=datetime.fromisoformat(meeting["start"]).astimezone(UTC),
            end=datetime.fromisoformat(meeting["end"]).astimezone(UTC),
            text=str(meeting.get("joinUrl") or ""),
        )
        for n, meeting in enumerate(answer.get("meetings", []))
        if not meeting.get("allDay")
    ]


class MeetingDesk:
    """Someone opening a person's meeting list on the receiver; every look asks again."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        self._session = session
        self._url = url
        self._key = key
        self._query: dict[str, str] | None = None

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        assert isinstance(action, ListMeetings)
        self._query = {
            "address": action.address,
            "start": _iso(action.start.resolve(base)),
            "end": _iso(action.end.resolve(base)),
        }
        await self.look()
        return None

    async def look(self) -> list[Shown]:
        if self._query is None:
            return []
        headers = {"Authorization": f"Bearer {self._key}"}
        async with self._session.get(self._url, params=self._query, headers=headers) as answer:
            answer.raise_for_status()
            return seen_from_meetings(await answer.json())


def next_monday(now: datetime) -> datetime:
    """The base of the demo week: midnight UTC of the Monday at least a week ahead."""
    day = (now.astimezone(UTC) + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7)
