"""`events.list` and `events.instances`: filters, paging and incremental sync.

A sync token remembers the world serial at the end of a full or incremental listing; the next
incremental listing returns every event of that calendar changed since, tombstones included.
Tokens die (410 `fullSyncRequired`) when the calendar's token epoch moves on. A page token holds
a snapshot of the remaining items, so entries changed while a client pages are not lost: they
come with the next incremental sync.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from multidict import MultiMapping

from sandbox.google.errors import GoogleApiError
from sandbox.google.recurrence import instance_id, instance_resource, original_starts
from sandbox.google.state import Calendar, GoogleWorld
from sandbox.google.times import format_millis, format_rfc3339, parse_event_time, parse_rfc3339, zone

__all__ = ["ListQuery", "SyncLedger", "list_events", "list_instances"]

DEFAULT_PAGE = 250
MAX_PAGE = 2500
_NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


@dataclass(frozen=True)
class ListQuery:
    sync_token: str | None = None
    page_token: str | None = None
    max_results: int = DEFAULT_PAGE
    show_deleted: bool = False
    single_events: bool = False
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    private: tuple[tuple[str, str], ...] = ()
    shared: tuple[tuple[str, str], ...] = ()
    ical_uid: str | None = None
    order_by: str | None = None
    text: str | None = None
    time_zone: ZoneInfo | None = None  # render times in this zone instead of the event's
    event_types: tuple[str, ...] = ()  # `eventTypes`: only these (default, outOfOffice, focusTime, ...)

    @classmethod
    def parse(cls, params: MultiMapping[str]) -> ListQuery:
        if params.get("syncToken"):
            refused = [name for name in _NOT_WITH_SYNC_TOKEN if name in params]
            if refused:
                raise GoogleApiError.bad_request(
                    f"Sync token cannot be used with the parameter: {refused[0]}.", "invalid"
                )
        try:
            max_results = int(params.get("maxResults", DEFAULT_PAGE))
        except ValueError as exc:
            raise GoogleApiError.bad_request("Invalid value for maxResults.") from exc
        if max_results < 1:
            raise GoogleApiError.bad_request("Invalid value for maxResults.")
        order_by = params.get("orderBy")
        single = _flag(params.get("singleEvents"))
        if order_by not in {None, "startTime", "updated"} or (order_by == "startTime" and not single):
            raise GoogleApiError.bad_request(
                "The requested ordering is not available for the particular query.", "badRequest"
            )
        time_min = _time(params.get("timeMin"), "timeMin")
        time_max = _time(params.get("timeMax"), "timeMax")
        if time_min and time_max and time_max <= time_min:
            raise GoogleApiError.time_range_empty()
        return cls(
            sync_token=params.get("syncToken") or None,
            page_token=params.get("pageToken") or None,
            max_results=min(max_results, MAX_PAGE),
            show_deleted=_flag(params.get("showDeleted")),
            single_events=single,
            time_min=time_min,
            time_max=time_max,
            updated_min=_time(params.get("updatedMin"), "updatedMin"),
            private=_properties(params.getall("privateExtendedProperty", [])),
            shared=_properties(params.getall("sharedExtendedProperty", [])),
            ical_uid=params.get("iCalUID"),
            order_by=order_by,
            text=params.get("q"),
            time_zone=zone(params.get("timeZone")),
            event_types=_event_types(params.getall("eventTypes", [])),
        )


@dataclass(frozen=True)
class SyncMark:
    calendar_id: str
    serial: int
    epoch: int


@dataclass
class Page:
    calendar_id: str
    items: list[dict[str, Any]]
    next_sync: SyncMark | None


@dataclass
class SyncLedger:
    """Issued sync and page tokens (forgotten on reset)."""

    marks: dict[str, SyncMark] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)

    def issue_mark(self, world: GoogleWorld, mark: SyncMark) -> str:
        token = "C" + base64.urlsafe_b64encode(world.rng.randbytes(18)).decode()
        self.marks[token] = mark
        return token

    def issue_page(self, world: GoogleWorld, page: Page) -> str:
        token = "E" + base64.urlsafe_b64encode(world.rng.randbytes(18)).decode()
        self.pages[token] = page
        return token


def list_events(
    world: GoogleWorld, ledger: SyncLedger, calendar: Calendar, query: ListQuery, role: str
) -> dict[str, Any]:
    if query.page_token is not None:
        page = ledger.pages.get(query.page_token)
        if page is None or page.calendar_id != calendar.id:
            raise GoogleApiError.bad_request("Invalid page token value.")
        items, next_sync = page.items, page.next_sync
    else:
        next_sync = SyncMark(calendar.id, world.serial, calendar.token_epoch)
        if query.sync_token is not None:
            items = list(_changed_since(calendar, _mark(ledger, calendar, query.sync_token), query))
        else:
            items = list(_matching(calendar, query))
            if query.order_by or query.updated_min or query.text or query.ical_uid:
                next_sync = None
        items = [_render(item, query.time_zone) for item in _ordered(items, query.order_by, calendar)]
    return _answer(world, ledger, calendar, role, items, query.max_results, next_sync)


def list_instances(
    world: GoogleWorld, ledger: SyncLedger, calendar: Calendar, series_id: str, query: ListQuery, role: str
) -> dict[str, Any]:
    if query.page_token is not None:
        page = ledger.pages.get(query.page_token)
        if page is None or page.calendar_id != calendar.id:
            raise GoogleApiError.bad_request("Invalid page token value.")
        return _answer(world, ledger, calendar, role, page.items, query.max_results, None)
    series = calendar.events.get(series_id)
    if series is None or series.get("status") == "cancelled":
        raise GoogleApiError.not_found()
    candidates = list(_instances(calendar, series)) if series.get("recurrence") else [series]
    items = [
        _render(item, query.time_zone)
        for item in candidates
        if (query.show_deleted or item.get("status") != "cancelled") and _in_window(item, query, calendar)
    ]
    return _answer(world, ledger, calendar, role, items, query.max_results, None)


def _answer(
    world: GoogleWorld,
    ledger: SyncLedger,
    calendar: Calendar,
    role: str,
    items: list[dict[str, Any]],
    page_size: int,
    next_sync: SyncMark | None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"p{world.serial:015d}"',
        "summary": calendar.summary,
        "description": "",
        "updated": max((i.get("updated", "") for i in items), default="") or _now(world),
        "timeZone": calendar.time_zone,
        "accessRole": role,
        "defaultReminders": [{"method": "popup", "minutes": 10}] if role == "owner" else [],
        "items": items[:page_size],
    }
    rest = items[page_size:]
    if rest:
        answer["nextPageToken"] = ledger.issue_page(world, Page(calendar.id, rest, next_sync))
    elif next_sync is not None:
        answer["nextSyncToken"] = ledger.issue_mark(world, next_sync)
    return answer


def _now(world: GoogleWorld) -> str:
    return format_millis(world.clock.now())


def _mark(ledger: SyncLedger, calendar: Calendar, token: str) -> SyncMark:
    mark = ledger.marks.get(token)
    if mark is None or mark.calendar_id != calendar.id or mark.epoch != calendar.token_epoch:
        raise GoogleApiError.full_sync_required()
    return mark


def _changed_since(calendar: Calendar, mark: SyncMark, query: ListQuery) -> Iterator[dict[str, Any]]:
    """Everything changed after the mark, deletions included (they are always returned)."""
    changed = sorted(
        (calendar.serials[eid], event)
        for eid, event in calendar.events.items()
        if calendar.serials[eid] > mark.serial
    )
    seen: set[str] = set()
    for _, event in changed:
        if query.single_events and event.get("recurrence") and event.get("status") != "cancelled":
            expanded = list(_instances(calendar, event))
        else:
            expanded = [event]
        for item in expanded:
            if item["id"] not in seen:
                seen.add(item["id"])
                yield item


def _matching(calendar: Calendar, query: ListQuery) -> Iterator[dict[str, Any]]:
    by_serial = sorted(calendar.events.values(), key=lambda e: calendar.serials[e["id"]])
    for event in by_serial:
        is_exception = "recurringEventId" in event
        series = calendar.events.get(event.get("recurringEventId", ""))
        if query.single_events and is_exception and series is not None and series.get("recurrence"):
            continue  # emitted in place of its computed instance when the series is expanded
        if not _passes_filters(event, query):
            continue
        if query.single_events and event.get("recurrence"):
            if event.get("status") == "cancelled":
                continue  # a deleted series is not listed instance by instance
            for instance in _instances(calendar, event):
                if _visible(instance, query, single=True) and _in_window(instance, query, calendar):
                    yield instance
            continue
        if _visible(event, query, single=query.single_events) and _in_window(event, query, calendar):
            yield event


def _visible(event: dict[str, Any], query: ListQuery, *, single: bool) -> bool:
    if event.get("status") != "cancelled" or query.show_deleted or query.updated_min is not None:
        return True
    # Google lists cancelled instances of a series unless single events were asked for.
    return "recurringEventId" in event and not single


def _event_types(values: list[str]) -> tuple[str, ...]:
    known = {"default", "outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail"}
    unknown = [value for value in values if value not in known]
    if unknown:
        raise GoogleApiError.bad_request(f"Invalid event type: {unknown[0]}.", "invalid")
    return tuple(values)


def _passes_filters(event: dict[str, Any], query: ListQuery) -> bool:
    if query.event_types and event.get("eventType", "default") not in query.event_types:
        return False
    props = event.get("extendedProperties", {})
    if any(props.get("private", {}).get(k) != v for k, v in query.private):
        return False
    if any(props.get("shared", {}).get(k) != v for k, v in query.shared):
        return False
    if query.ical_uid is not None and event.get("iCalUID") != query.ical_uid:
        return False
    if query.updated_min is not None and parse_rfc3339(event["updated"]) < query.updated_min:
        return False
    if query.text:
        haystack = " ".join(str(event.get(k, "")) for k in ("summary", "description", "location")).lower()
        if query.text.lower() not in haystack:
            return False
    return True


def _instances(calendar: Calendar, series: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for original in original_starts(series):
        stored = calendar.events.get(instance_id(series["id"], original))
        yield stored if stored is not None else instance_resource(series, original, calendar.tz)


def _span(event: dict[str, Any], calendar: Calendar) -> tuple[datetime, datetime]:
    start = parse_event_time(event["start"], "start").instant(calendar.tz)
    end = parse_event_time(event["end"], "end").instant(calendar.tz)
    return start, end


def _in_window(event: dict[str, Any], query: ListQuery, calendar: Calendar) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    if event.get("recurrence"):  # a series is in the window if one of its instances is
        return any(_in_window(i, query, calendar) for i in _instances(calendar, event))
    start, end = _span(event, calendar)
    if query.time_min is not None and end <= query.time_min and not (start == end == query.time_min):
        return False
    return query.time_max is None or start < query.time_max


def _ordered(items: list[dict[str, Any]], order_by: str | None, calendar: Calendar) -> list[dict[str, Any]]:
    if order_by == "startTime":
        return sorted(
            items,
            key=lambda e: _span(e, calendar)[0] if "start" in e else datetime.max.replace(tzinfo=calendar.tz),
        )
    if order_by == "updated":
        return sorted(items, key=lambda e: e.get("updated", ""))
    return items


def _render(event: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    """A cancelled event in a listing carries only what Google guarantees for tombstones; with
    the `timeZone` parameter, instants are shown in that zone (the event keeps its `timeZone`)."""
    if event.get("status") != "cancelled":
        shown = dict(event)
        if tz is not None:
            for key in ("start", "end", "originalStartTime"):
                if key in shown and "dateTime" in shown[key]:
                    moment = datetime.fromisoformat(shown[key]["dateTime"])
                    shown[key] = {**shown[key], "dateTime": format_rfc3339(moment, tz)}
        return shown
    keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
    return {k: event[k] for k in keep if k in event}


def _flag(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _time(value: str | None, name: str) -> datetime | None:
    return parse_rfc3339(value, name) if value else None


def _properties(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or not name:
            raise GoogleApiError.bad_request("Invalid extended property filter.")
        pairs.append((name, wanted))
    return tuple(pairs)
