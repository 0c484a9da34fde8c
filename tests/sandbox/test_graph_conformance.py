"""Conformance: every Graph answer calbridge reads, parsed by msgraph-sdk's own kiota parse node
into its v1.0 model, leaves nothing the model does not define.

A field Graph v1.0 does not define lands in the model's `additional_data`; only `@` annotations
(`@odata.context`, `@odata.etag`, `@odata.nextLink`, `@odata.deltaLink`, `@removed`) may. The
one listed exception is what the real service sends beyond the model: `scheduleItem`'s
`isMeeting`, `isRecurring`, `isException` and `isReminderSet` (msgraph-typescript-typings#428
shows them in a real answer; v1.0's scheduleItem lacks them), which the emulator sends because
Graph does.

The calendar is realistic: a Teams meeting series with attendees, an HTML body, an extended
property, a moved and renamed exception and a cancelled occurrence; an all-day event; an event
made by another client with Outlook's `tzone://Microsoft/Custom` zone. Reads carry the `Prefer`
headers calbridge sends (immutable ids, UTC).
"""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from graph_harness import ALICE, BOB, GraphSandbox, Webhook, graph, webhook  # noqa: F401
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.calendar_collection_response import CalendarCollectionResponse
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_collection_response import EventCollectionResponse
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.models.subscription_collection_response import SubscriptionCollectionResponse
from msgraph.generated.users.item.calendar.calendar_view.delta.delta_get_response import DeltaGetResponse
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_response import (
    GetSchedulePostResponse,
)

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback

PREFER = {"Prefer": 'IdType="ImmutableId", outlook.timezone="UTC"'}
MARK = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calbridgeSource"
WINDOW = "startDateTime=2026-11-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"
# Sent by the real service, absent from v1.0's model (see the module doc): model -> keys.
BEYOND_THE_MODEL = {"ScheduleItem": {"isMeeting", "isRecurring", "isException", "isReminderSet"}}


def strays(value: Any, path: str = "$") -> list[str]:
    """Every key a v1.0 model left in `additional_data` that is not an annotation."""
    if isinstance(value, list):
        return [found for n, item in enumerate(value) for found in strays(item, f"{path}[{n}]")]
    if not dataclasses.is_dataclass(value) or not hasattr(value, "additional_data"):
        return []
    allowed = BEYOND_THE_MODEL.get(type(value).__name__, set())
    found = [
        f"{path}.{key} ({type(value).__name__})"
        for key in value.additional_data or {}
        if not key.startswith("@") and key not in allowed
    ]
    for field in dataclasses.fields(value):
        if field.name not in ("additional_data", "backing_store"):
            found.extend(strays(getattr(value, field.name), f"{path}.{field.name}"))
    return found


def parse(raw: bytes, model: type[Parsable]) -> Any:
    """The SDK's own way of reading an answer: kiota's JSON parse node into the v1.0 model."""
    node = JsonParseNodeFactory().get_root_parse_node("application/json", raw)
    return node.get_object_value(model)


@dataclass
class Mailbox:
    graph: GraphSandbox
    series: str  # immutable ids
    exception: str
    all_day: str
    foreign: str
    created_raw: bytes
    updated_raw: bytes

    async def get(self, path: str) -> bytes:
        answer = await self.graph.raw("GET", path, headers=PREFER)
        assert answer.status_code == 200, answer.text
        return answer.content


def _at(day: str, hour: int, zone: str = "W. Europe Standard Time") -> dict[str, str]:
    return {"dateTime": f"{day}T{hour:02d}:00:00", "timeZone": zone}


@pytest.fixture
async def mailbox(graph: GraphSandbox) -> AsyncIterator[Mailbox]:
    """Given Alice's calendar holding what real calendars hold."""
    events = f"/users/{ALICE}/events"
    created = await graph.raw(
        "POST",
        events,
        headers=PREFER,
        json={
            "subject": "Planning",
            "body": {"contentType": "html", "content": "<p>Quarterly <b>numbers</b></p>"},
            "start": _at("2026-11-23", 9),
            "end": _at("2026-11-23", 10),
            "location": {"displayName": "Room 4"},
            "attendees": [
                {"emailAddress": {"address": BOB, "name": "Bob"}, "type": "required"},
                {"emailAddress": {"address": "dana@fabrikam.test"}, "type": "optional"},
            ],
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "categories": ["Blue category"],
            "transactionId": "calbridge-tx-1",
            "singleValueExtendedProperties": [{"id": MARK, "value": "google:abc"}],
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2026-11-23", "numberOfOccurrences": 5},
            },
        },
    )
    assert created.status_code == 201, created.text
    series = created.json()["id"]
    updated = await graph.raw(
        "PATCH", f"{events}/{quote(series, safe='')}", headers=PREFER, json={"subject": "Planning (Q4)"}
    )
    moved = await graph.control.update_occurrence(
        ALICE, series, "2026-11-30T08:00:00Z", {"subject": "Planning (late)", "start": _at("2026-11-30", 15),
                                                "end": _at("2026-11-30", 16)}
    )  # fmt: skip
    await graph.control.delete_occurrence(ALICE, series, "2026-12-07T08:00:00Z")
    all_day = await graph.control.create_event(
        ALICE, {"subject": "Offsite", "isAllDay": True, "showAs": "oof", "start": _at("2026-11-25", 0, "UTC"),
                "end": _at("2026-11-27", 0, "UTC")}
    )  # fmt: skip
    foreign = await graph.control.create_event(
        ALICE, {"subject": "Dentist", "sensitivity": "private", "originalStartTimeZone": "tzone://Microsoft/Custom",
                "start": _at("2026-11-24", 14), "end": _at("2026-11-24", 15)}
    )  # fmt: skip
    yield Mailbox(graph, series, moved["id"], all_day["id"], foreign["id"], created.content, updated.content)


def _q(event_id: str) -> str:
    return quote(event_id, safe="")


async def test_create_and_update_answers_are_events(mailbox: Mailbox) -> None:
    created = parse(mailbox.created_raw, Event)
    updated = parse(mailbox.updated_raw, Event)

    assert created.id == mailbox.series and updated.subject == "Planning (Q4)"
    assert created.online_meeting is not None and created.recurrence is not None
    assert strays(created) == [] and strays(updated) == []


async def test_get_of_every_kind_of_event_is_an_event(mailbox: Mailbox) -> None:
    expand = f"$expand=singleValueExtendedProperties($filter=id eq '{quote(MARK)}')"
    series = parse(await mailbox.get(f"/users/{ALICE}/events/{_q(mailbox.series)}?{expand}"), Event)
    exception = parse(await mailbox.get(f"/users/{ALICE}/events/{_q(mailbox.exception)}"), Event)
    all_day = parse(await mailbox.get(f"/users/{ALICE}/events/{_q(mailbox.all_day)}"), Event)
    foreign = parse(await mailbox.get(f"/users/{ALICE}/events/{_q(mailbox.foreign)}"), Event)

    assert series.single_value_extended_properties and series.attendees and len(series.attendees) == 2
    assert exception.type is not None and exception.type.value == "exception"
    assert all_day.is_all_day and foreign.original_start_time_zone == "tzone://Microsoft/Custom"
    for event in (series, exception, all_day, foreign):
        assert strays(event) == [], event.subject


async def test_listings_instances_and_views_are_event_collections(mailbox: Mailbox) -> None:
    marked = f"singleValueExtendedProperties/Any(ep: ep/id eq '{MARK}' and ep/value eq 'google:abc')"
    listed = parse(await mailbox.get(f"/users/{ALICE}/events"), EventCollectionResponse)
    filtered = parse(
        await mailbox.get(
            f"/users/{ALICE}/calendar/events?$filter={quote(marked)}&$expand=singleValueExtendedProperties"
        ),
        EventCollectionResponse,
    )
    instances = parse(
        await mailbox.get(f"/users/{ALICE}/events/{_q(mailbox.series)}/instances?{WINDOW}"),
        EventCollectionResponse,
    )
    selected = parse(
        await mailbox.get(
            f"/users/{ALICE}/events/{_q(mailbox.series)}/instances?{WINDOW}&$select=start,end,type,originalStart"
        ),
        EventCollectionResponse,
    )
    view = parse(await mailbox.get(f"/users/{ALICE}/calendarView?{WINDOW}&$top=50"), EventCollectionResponse)

    assert listed.value and len(listed.value) == 3 and filtered.value and len(filtered.value) == 1
    assert instances.value and len(instances.value) == 4
    assert selected.value and {e.original_start is not None for e in selected.value} == {True}
    assert view.value and {e.type.value for e in view.value if e.type} == {
        "occurrence",
        "exception",
        "singleInstance",
    }
    for collection in (listed, filtered, instances, selected, view):
        assert strays(collection) == []


async def test_delta_pages_and_removals_are_delta_responses(mailbox: Mailbox) -> None:
    first_page = await mailbox.graph.raw(
        "GET",
        f"/users/{ALICE}/calendar/calendarView/delta?{WINDOW}",
        headers={"Prefer": 'IdType="ImmutableId", outlook.timezone="UTC", odata.maxpagesize=3'},
    )
    pages = [parse(first_page.content, DeltaGetResponse)]
    while pages[-1].odata_next_link:
        following = await mailbox.graph.raw("GET", pages[-1].odata_next_link, headers=PREFER)
        pages.append(parse(following.content, DeltaGetResponse))
    delta_link = pages[-1].odata_delta_link
    assert delta_link

    # When a person deletes the all-day event, the next round reports it removed
    await mailbox.graph.control.delete_event(ALICE, mailbox.all_day)
    later = parse((await mailbox.graph.raw("GET", delta_link, headers=PREFER)).content, DeltaGetResponse)

    rows = [e for page in pages for e in page.value or []]
    assert len(rows) == 6 and len(pages) == 2
    assert later.value and [e.additional_data.get("@removed") for e in later.value] == [{"reason": "deleted"}]
    for page in [*pages, later]:
        assert strays(page) == []


async def test_calendars_are_a_calendar_collection(mailbox: Mailbox) -> None:
    await mailbox.graph.control.add_calendar(ALICE, "Team")

    calendars = parse(await mailbox.get(f"/users/{ALICE}/calendars"), CalendarCollectionResponse)

    assert calendars.value and len(calendars.value) == 2 and strays(calendars) == []


async def test_subscription_answers_are_subscriptions(mailbox: Mailbox, webhook: Webhook) -> None:
    graph = mailbox.graph
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = await graph.raw(
        "POST",
        "/subscriptions",
        headers=PREFER,
        json={"changeType": "created,updated,deleted", "notificationUrl": f"{webhook.url}/notify",
              "lifecycleNotificationUrl": f"{webhook.url}/lifecycle", "resource": f"/users/{ALICE}/events",
              "expirationDateTime": expires, "clientState": "secret"},
    )  # fmt: skip
    sub_id = created.json()["id"]
    renewed = await graph.raw("PATCH", f"/subscriptions/{sub_id}", json={"expirationDateTime": expires})
    fetched = await graph.raw("GET", f"/subscriptions/{sub_id}")
    listed = await graph.raw("GET", "/subscriptions")

    for answer in (created, renewed, fetched):
        assert strays(parse(answer.content, Subscription)) == []
    assert strays(parse(listed.content, SubscriptionCollectionResponse)) == []
    assert parse(fetched.content, Subscription).lifecycle_notification_url == f"{webhook.url}/lifecycle"


async def test_get_schedule_answers_are_schedule_information(mailbox: Mailbox) -> None:
    answer = await mailbox.graph.raw(
        "POST",
        f"/users/{ALICE}/calendar/getSchedule",
        headers={"Prefer": 'outlook.timezone="W. Europe Standard Time"'},
        json={"schedules": [ALICE, "nobody@contoso.test"], "startTime": _at("2026-11-23", 0),
              "endTime": _at("2026-11-28", 0), "availabilityViewInterval": 60},
    )  # fmt: skip

    parsed = parse(answer.content, GetSchedulePostResponse)

    assert parsed.value and len(parsed.value) == 2
    alice, nobody = parsed.value
    assert alice.schedule_items and nobody.error is not None
    assert {i.additional_data.get("isMeeting") for i in alice.schedule_items} == {True, False}
    assert strays(parsed) == []


@pytest.mark.parametrize(
    "method, path, body, headers, status",
    [
        ("GET", f"/users/{ALICE}/events/AAMkAGnothere%3D", None, {}, 404),
        ("POST", f"/users/{ALICE}/events", {"subject": "x", "start": _at("2026-11-23", 9, "Mars/Olympus"),
         "end": _at("2026-11-23", 10, "UTC")}, {}, 400),
        ("POST", "/subscriptions", {"changeType": "created", "notificationUrl": "http://127.0.0.1:9/n",
         "resource": f"/users/{ALICE}/events", "expirationDateTime": "2030-01-01T00:00:00Z"}, {}, 400),
        ("PATCH", "SERIES", {"subject": "stale"}, {"If-Match": 'W/"stale"'}, 412),
        ("GET", f"/users/{ALICE}/calendarView", None, {}, 400),
    ],
)  # fmt: skip
async def test_errors_are_odata_errors(
    mailbox: Mailbox, method: str, path: str, body: Any, headers: dict[str, str], status: int
) -> None:
    if path == "SERIES":
        path = f"/users/{ALICE}/events/{_q(mailbox.series)}"

    answer = await mailbox.graph.raw(method, path, json=body, headers={**PREFER, **headers})

    assert answer.status_code == status
    error = parse(answer.content, ODataError)
    assert error.error is not None and error.error.code and error.error.message
    assert error.error.inner_error is not None and error.error.inner_error.request_id
    assert strays(error) == []
