"""The Graph emulator is as demanding as Graph v1.0 where a kinder emulator would hide a client's
bugs: opaque ids, `originalStart` only on `$select`, Outlook's odd zone names, the full
recurrence pattern, Exchange's bodies and Teams blocks, `@odata.context` and request ids, HTTPS
webhooks only, several notifications per change, getSchedule's and calendars' whole shape.
Each test names the real behaviour it shows (sources in docs/sandbox-graph.md)."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

import pytest
from graph_harness import ALICE, BOB, GraphSandbox, Webhook, at, graph, wait_for, webhook  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback

OPAQUE = re.compile(r"^AA[A-Za-z0-9_-]+=$")  # Graph's spelling of an Exchange store id
WINDOW = ("2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z")


def weekly(subject: str, count: int = 4, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": "2026-11-23T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-11-23T09:30:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2026-11-23", "numberOfOccurrences": count},
        },
        **extra,
    }


def instances_query(
    select: list[str] | None = None,
) -> RequestConfiguration[InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters]:
    return RequestConfiguration(
        query_parameters=InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=WINDOW[0], end_date_time=WINDOW[1], select=select
        )
    )


# -- ids ---------------------------------------------------------------------------------------


async def test_ids_are_opaque_and_an_occurrence_id_cannot_be_derived_from_its_series(
    graph: GraphSandbox,
) -> None:
    # Given a series and a second calendar, made by a person
    series = await graph.control.create_event(ALICE, weekly("Standup"))
    work = await graph.control.add_calendar(ALICE, "Work")
    events = graph.client().users.by_user_id(ALICE).events

    # When the app lists the occurrences and the calendars
    listed = await events.by_event_id(series["restId"]).instances.get(instances_query())
    calendars = await graph.client().users.by_user_id(ALICE).calendars.get()

    # Then every id is base64 in Graph's spelling, with `-`, `_` and `=` padding
    assert listed is not None and listed.value and calendars is not None and calendars.value
    occurrence_ids = [str(o.id) for o in listed.value]
    for some_id in [series["id"], series["restId"], work["id"], *occurrence_ids]:
        assert OPAQUE.match(some_id), some_id
    assert "-" in series["restId"] and "_" in series["restId"]
    assert {c.id for c in calendars.value} >= {work["id"]}
    # ... and an occurrence's id is its own: not the series id plus the start
    original = listed.value[1].start
    assert original is not None
    derived = f"{series['restId']}_20261130T080000Z"
    assert derived not in occurrence_ids and all("_2026" not in o for o in occurrence_ids)
    with pytest.raises(ODataError) as unknown:
        await events.by_event_id(derived).get()
    assert unknown.value.response_status_code == 404
    second = await events.by_event_id(occurrence_ids[1]).get()
    assert second is not None and second.series_master_id == series["restId"]


async def test_ids_travel_percent_encoded_in_paths_as_the_sdk_sends_them(graph: GraphSandbox) -> None:
    # Given an event whose id ends in `=`
    created = await graph.control.create_event(ALICE, weekly("Encoded", count=1))
    event_id = created["restId"]
    builder = graph.client().users.by_user_id(ALICE).events.by_event_id(event_id)

    # When the SDK builds the request, then it percent-encodes the id ...
    info = builder.to_get_request_information()
    info.path_parameters["baseurl"] = f"{graph.origin}/v1.0"
    assert "%3D" in info.url and event_id not in info.url
    # ... and the emulator finds the event from the encoded path, as Graph does
    fetched = await builder.get()
    assert fetched is not None and fetched.subject == "Encoded"
    by_hand = await graph.raw("GET", f"/users/{ALICE}/events/{quote(event_id, safe='')}")
    assert by_hand.status_code == 200 and by_hand.json()["id"] == event_id


# -- originalStart -----------------------------------------------------------------------------


async def test_original_start_is_left_out_unless_selected(graph: GraphSandbox) -> None:
    # Given a series whose second occurrence a person moved to the afternoon
    series = await graph.control.create_event(ALICE, weekly("Review"))
    late = {"dateTime": "2026-11-30T15:00:00", "timeZone": "W. Europe Standard Time"}
    await graph.control.update_occurrence(
        ALICE,
        series["id"],
        "2026-11-30T08:00:00Z",
        {"start": late, "end": {**late, "dateTime": "2026-11-30T15:30:00"}},
    )
    events = graph.client().users.by_user_id(ALICE).events

    # When the app lists the instances without and with $select=originalStart
    plain = await events.by_event_id(series["restId"]).instances.get(instances_query())
    chosen = await events.by_event_id(series["restId"]).instances.get(
        instances_query(["subject", "start", "type", "originalStart"])
    )
    master = await graph.raw(
        "GET", f"/users/{ALICE}/events/{quote(series['restId'])}?$select=subject,originalStart"
    )

    # Then only the selection carries originalStart: the moved exception's is its old slot
    assert plain is not None and plain.value and chosen is not None and chosen.value
    assert all(o.original_start is None for o in plain.value)
    raw_plain = await graph.raw(
        "GET",
        f"/users/{ALICE}/events/{quote(series['restId'])}/instances?startDateTime={WINDOW[0]}&endDateTime={WINDOW[1]}",
    )
    assert all("originalStart" not in row for row in raw_plain.json()["value"])
    exception = next(o for o in chosen.value if o.type is not None and o.type.value == "exception")
    assert exception.original_start == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    assert exception.start is not None and exception.start.date_time == "2026-11-30T14:00:00.0000000"
    # ... and on a series master it is there but null; a selection leaves the rest out
    assert master.json()["originalStart"] is None and "body" not in master.json()
    # ... and a calendarView listing answers it null even for occurrences and exceptions
    view = await graph.raw(
        "GET",
        f"/users/{ALICE}/calendarView?startDateTime={WINDOW[0]}&endDateTime={WINDOW[1]}"
        "&$select=subject,type,originalStart",
    )
    listed = [row for row in view.json()["value"] if row["type"] in ("occurrence", "exception")]
    assert listed and all(row["originalStart"] is None for row in listed)


async def test_a_selection_keeps_what_expand_asked_for(graph: GraphSandbox) -> None:
    # Given an app's event carrying an extended property
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calbridge.source"
    made = await graph.raw(
        "POST",
        f"/users/{ALICE}/events",
        json={
            "subject": "Stamped",
            "body": {"contentType": "text", "content": "notes"},
            "start": {"dateTime": "2026-11-20T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-20T10:00:00", "timeZone": "UTC"},
            "singleValueExtendedProperties": [{"id": prop, "value": "src-1"}],
        },
    )
    assert made.status_code == 201

    # When it is read with a $select that does not name the expanded property
    expand = quote(f"singleValueExtendedProperties($filter=id eq '{prop}')")
    got = await graph.raw(
        "GET", f"/users/{ALICE}/events/{quote(made.json()['id'], safe='')}?$select=subject&$expand={expand}"
    )

    # Then the answer has the selection and the expansion (as Graph's does), and nothing else
    row = got.json()
    assert row["subject"] == "Stamped" and "body" not in row
    assert [(p["id"], p["value"]) for p in row["singleValueExtendedProperties"]] == [(prop, "src-1")]


# -- originalStartTimeZone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["tzone://Microsoft/Custom", "tzone://Microsoft/Utc", "Customized Time Zone"]
)
async def test_events_made_by_other_clients_carry_outlooks_zone_labels(
    graph: GraphSandbox, label: str
) -> None:
    # Given a person whose client recorded its zone as Outlook's label, not a zone name
    zone = "UTC" if label.endswith("Utc") else "W. Europe Standard Time"
    body = weekly("From another client", count=3)
    for side in ("start", "end"):
        body[side]["timeZone"] = zone
    made = await graph.control.create_event(ALICE, {**body, "originalStartTimeZone": label})

    # When the app reads the series and its occurrences
    events = graph.client().users.by_user_id(ALICE).events
    master = await events.by_event_id(made["restId"]).get()
    listed = await events.by_event_id(made["restId"]).instances.get(instances_query())

    # Then the label is what it sees, and the series still keeps its wall-clock hour
    assert master is not None and master.recurrence is not None and master.recurrence.range is not None
    assert (master.original_start_time_zone, master.original_end_time_zone) == (label, label)
    assert master.recurrence.range.recurrence_time_zone == label
    assert listed is not None and listed.value
    assert {o.original_start_time_zone for o in listed.value} == {label}
    hours = {o.start.date_time[11:16] for o in listed.value if o.start and o.start.date_time}
    assert hours == ({"09:00"} if zone == "UTC" else {"08:00"})


# -- recurrence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected_range",
    [
        (
            {"type": "numbered", "startDate": "2026-11-23", "numberOfOccurrences": 4},
            {"type": "numbered", "startDate": "2026-11-23", "endDate": "0001-01-01",
             "recurrenceTimeZone": "W. Europe Standard Time", "numberOfOccurrences": 4},
        ),
        (
            {"type": "noEnd", "startDate": "2026-11-23"},
            {"type": "noEnd", "startDate": "2026-11-23", "endDate": "0001-01-01",
             "recurrenceTimeZone": "W. Europe Standard Time", "numberOfOccurrences": 0},
        ),
        (
            {"type": "endDate", "startDate": "2026-11-23", "endDate": "2026-12-31",
             "recurrenceTimeZone": "UTC"},
            {"type": "endDate", "startDate": "2026-11-23", "endDate": "2026-12-31",
             "recurrenceTimeZone": "UTC", "numberOfOccurrences": 0},
        ),
    ],
)  # fmt: skip
async def test_recurrence_comes_back_as_the_whole_pattern_and_range(
    graph: GraphSandbox, given: dict[str, Any], expected_range: dict[str, Any]
) -> None:
    # Given a weekly series written with only the properties its type needs
    body = weekly("Pattern")
    body["recurrence"]["range"] = given
    created = await graph.raw("POST", f"/users/{ALICE}/events", json=body)
    assert created.status_code == 201

    # When the app reads it back
    read = await graph.raw("GET", f"/users/{ALICE}/events/{quote(created.json()['id'])}")

    # Then Graph's defaults are filled in and ranges without an end date say 0001-01-01
    assert read.json()["recurrence"] == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": expected_range,
    }


# -- body and Teams ----------------------------------------------------------------------------


async def test_bodies_come_back_as_exchange_stores_them(graph: GraphSandbox) -> None:
    # Given an event written with an upper-case content type and a bare HTML fragment
    made = await graph.control.create_event(
        ALICE,
        {
            **weekly("Body", count=1),
            "body": {"contentType": "HTML", "content": "<p>Agenda</p>\n<p>Notes</p>"},
        },
    )

    # When the app reads it
    got = (await graph.raw("GET", f"/users/{ALICE}/events/{quote(made['restId'])}")).json()

    # Then the type is lowercase and the HTML is a whole document with CRLF line ends
    assert got["body"]["contentType"] == "html"
    content = got["body"]["content"]
    assert content.startswith("<html>\r\n<head>\r\n<meta http-equiv=")
    assert "<body>\r\n<p>Agenda</p>\r\n<p>Notes</p>\r\n</body>\r\n</html>\r\n" in content
    assert "\n" not in content.replace("\r\n", "")
    assert got["bodyPreview"] == "Agenda\r\nNotes"


async def test_a_teams_meeting_gets_a_join_url_and_the_join_block_in_its_body(graph: GraphSandbox) -> None:
    # Given the app creates an online meeting with a plain-text description and no place
    created = await graph.raw(
        "POST",
        f"/users/{ALICE}/events",
        json={**weekly("Sync", count=1), "body": {"contentType": "text", "content": "Let's sync."},
              "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"},
    )  # fmt: skip

    # When it reads the event back, and later tries to take the meeting offline
    got = created.json()
    offline = await graph.raw(
        "PATCH", f"/users/{ALICE}/events/{quote(got['id'])}", json={"isOnlineMeeting": False}
    )

    # Then the body became HTML with the description, the rule and Teams' join block
    url = got["onlineMeeting"]["joinUrl"]
    assert url.startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert got["body"]["contentType"] == "html"
    body = got["body"]["content"]
    assert body.index("Let&#x27;s sync.") < body.index("_" * 80) < body.index("Microsoft Teams meeting")
    assert f'href="{url}"' in body and "Meeting ID:" in body and "Passcode:" in body
    assert got["location"]["displayName"] == "Microsoft Teams Meeting"
    # ... and the meeting stays online, as the event resource documents
    assert offline.json()["isOnlineMeeting"] is True and offline.json()["onlineMeeting"]["joinUrl"] == url


# -- @odata.context and request ids ------------------------------------------------------------


async def test_answers_carry_odata_context_and_request_ids(graph: GraphSandbox) -> None:
    made = await graph.control.create_event(ALICE, weekly("Context", count=1))
    event_path = f"/users/{ALICE}/events/{quote(made['restId'], safe='')}"

    # When the app reads the event, naming its own client-request-id, and reads a missing one
    got = await graph.raw("GET", event_path, headers={"client-request-id": "0f9e8d7c-client"})
    listed = await graph.raw("GET", f"/users/{ALICE}/events")
    missing = await graph.raw("GET", f"/users/{ALICE}/events/AAMkAGnothere%3D")

    # Then each answer says what it is, and the headers carry Graph's request ids
    assert got.json()["@odata.context"].endswith(
        "/v1.0/$metadata#users('alice%40contoso.test')/events/$entity"
    )
    assert listed.json()["@odata.context"].endswith("/v1.0/$metadata#users('alice%40contoso.test')/events")
    assert got.headers["client-request-id"] == "0f9e8d7c-client"
    assert re.match(r"^[0-9a-f-]{36}$", got.headers["request-id"])
    assert missing.status_code == 404
    inner = missing.json()["error"]["innerError"]
    assert inner["request-id"] == missing.headers["request-id"]
    assert inner["client-request-id"] == missing.headers["client-request-id"]


# -- subscriptions -----------------------------------------------------------------------------


def _subscription(url: str) -> Subscription:
    return Subscription(
        change_type="created,updated,deleted",
        notification_url=url,
        resource=f"/users/{ALICE}/events",
        client_state="state",
        expiration_date_time=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )


async def test_a_plain_http_notification_url_is_refused_as_graph_refuses_it(
    graph: GraphSandbox, webhook: Webhook
) -> None:
    subscriptions = graph.client().subscriptions
    plain = webhook.url.replace("https://", "http://")

    # When the app subscribes with an http:// endpoint (even one that would answer)
    with pytest.raises(ODataError) as refused:
        await subscriptions.post(_subscription(f"{plain}/notify"))

    # Then Graph's 400 comes back before any handshake, and nothing is subscribed
    assert refused.value.response_status_code == 400
    assert refused.value.error is not None and refused.value.error.code == "InvalidRequest"
    assert refused.value.error.message == "NotificationUrl scheme='http' is not supported."
    assert webhook.posts == 0 and graph.world.subscriptions == {}
    # ... while the same endpoint over HTTPS is accepted
    assert await subscriptions.post(_subscription(f"{webhook.url}/notify")) is not None


async def test_plain_http_on_loopback_only_with_the_demos_named_option(graph: GraphSandbox) -> None:
    # Given the demo's explicit kindness, then a loopback http URL passes the scheme check
    # (and fails only its handshake: nothing listens there), and a remote http URL still does not
    await graph.control.set_settings(plainHttpLoopbackWebhooks=True)
    subscriptions = graph.client().subscriptions
    with pytest.raises(ODataError) as loopback:
        await subscriptions.post(_subscription("http://127.0.0.1:9/notify"))
    with pytest.raises(ODataError) as remote:
        await subscriptions.post(_subscription("http://receiver.example.com/notify"))
    assert loopback.value.error is not None and loopback.value.error.code == "ValidationError"
    assert remote.value.error is not None and remote.value.error.code == "InvalidRequest"
    assert (await graph.control.set_settings(plainHttpLoopbackWebhooks=False))[
        "plainHttpLoopbackWebhooks"
    ] is False


async def test_one_edit_brings_several_updated_notifications_and_a_create_is_followed_by_updates(
    graph: GraphSandbox, webhook: Webhook
) -> None:
    # Given a subscription, and a person who creates four events and edits each once
    await graph.client().subscriptions.post(_subscription(f"{webhook.url}/notify"))
    made = [await graph.control.create_event(ALICE, weekly(f"Noisy {n}", count=1)) for n in range(4)]
    edited = [await graph.control.update_event(ALICE, m["id"], {"subject": "Edited"}) for m in made]

    edit_etags = [f'W/"{e["changeKey"]}"' for e in edited]

    def tags(kind: str) -> list[str]:
        return [n["resourceData"]["@odata.etag"] for n in webhook.notifications if n["changeType"] == kind]

    def followed_creates() -> int:  # `updated` notifications carrying a create's etag
        return sum(tag in set(tags("created")) for tag in tags("updated"))

    def most_per_edit() -> int:
        return max(tags("updated").count(tag) for tag in edit_etags)

    # When Exchange has sent what it sends (each change at once, its echoes within a second)
    await wait_for(lambda: len(tags("created")) == 4 and set(edit_etags) <= set(tags("updated")))
    await wait_for(lambda: followed_creates() >= 1 and most_per_edit() >= 2)

    # Then there are more notifications than changes: a create followed by `updated` with the
    # create's own etag, and an edit notified more than once
    assert len(webhook.notifications) > len(made) + len(edited)
    assert all(n["changeType"] in ("created", "updated") for n in webhook.notifications)


# -- getSchedule and calendars -----------------------------------------------------------------


async def test_schedule_items_carry_the_services_flags_and_lowercase_status(graph: GraphSandbox) -> None:
    # Given Bob's meeting, his private appointment, and a series whose first occurrence he renamed
    def single(subject: str, hour: int, **extra: Any) -> dict[str, Any]:
        day = "2026-11-23T{:02d}:00:00"
        return {"subject": subject, "start": {"dateTime": day.format(hour), "timeZone": "UTC"},
                "end": {"dateTime": day.format(hour + 1), "timeZone": "UTC"}, **extra}  # fmt: skip

    await graph.control.create_event(
        BOB, single("Planning", 8, attendees=[{"emailAddress": {"address": ALICE}}])
    )
    await graph.control.create_event(
        BOB, single("Dentist", 11, sensitivity="private", isReminderOn=False, showAs="oof")
    )
    series = await graph.control.create_event(
        BOB, {**weekly("Weekly", count=2), **single("Weekly", 14), "recurrence": weekly("")["recurrence"]}
    )
    await graph.control.update_occurrence(BOB, series["id"], "2026-11-23T14:00:00Z", {"subject": "Renamed"})

    # When Alice asks for his schedule that day
    answer = await graph.raw(
        "POST",
        f"/users/{ALICE}/calendar/getSchedule",
        json={"schedules": [BOB], "availabilityViewInterval": 60,
              "startTime": {"dateTime": "2026-11-23T00:00:00", "timeZone": "UTC"},
              "endTime": {"dateTime": "2026-11-24T00:00:00", "timeZone": "UTC"}},
    )  # fmt: skip

    # Then each item says what the service says about it, status in lowercase
    items = answer.json()["value"][0]["scheduleItems"]
    flags = [
        (
            i["status"],
            i.get("subject"),
            i["isPrivate"],
            i["isMeeting"],
            i["isRecurring"],
            i["isException"],
            i["isReminderSet"],
        )
        for i in items
    ]
    assert flags == [
        ("busy", "Planning", False, True, False, False, True),
        ("oof", None, True, False, False, False, False),
        ("busy", "Renamed", False, False, True, True, True),
    ]
    assert answer.json()["@odata.context"].endswith(
        "$metadata#Collection(microsoft.graph.scheduleInformation)"
    )


async def test_calendars_carry_color_sharing_and_meeting_providers(graph: GraphSandbox) -> None:
    await graph.control.add_calendar(ALICE, "Team")

    calendars = await graph.client().users.by_user_id(ALICE).calendars.get()

    assert calendars is not None and calendars.value is not None and len(calendars.value) == 2
    for calendar in calendars.value:
        assert calendar.color is not None and calendar.color.value == "auto" and calendar.hex_color == ""
        assert calendar.can_share and calendar.can_view_private_items and calendar.can_edit
        providers = [p.value for p in calendar.allowed_online_meeting_providers or []]
        assert providers == ["teamsForBusiness"]
    assert [c.is_removable for c in calendars.value] == [False, True]


# -- a person's occurrence ---------------------------------------------------------------------


async def test_a_person_reaches_an_occurrence_by_its_original_start(graph: GraphSandbox) -> None:
    series = await graph.control.create_event(ALICE, weekly("Retro"))

    occurrence = await graph.control.occurrence(ALICE, series["id"], "2026-12-07T08:00:00Z")
    await graph.control.delete_occurrence(ALICE, series["id"], "2026-12-07T08:00:00Z")

    assert occurrence["type"] == "occurrence" and OPAQUE.match(occurrence["restId"])
    with pytest.raises(ODataError) as gone:
        await graph.client().users.by_user_id(ALICE).events.by_event_id(occurrence["restId"]).get()
    assert gone.value.response_status_code == 404
