"""Event CRUD, idempotent create, extended properties, ids, time zones and invitations, driven
through the real msgraph-sdk against the emulator."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import pytest
from graph_harness import ALICE, BOB, GraphSandbox, at, graph  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.event_item_request_builder import EventItemRequestBuilder

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback

SOURCE = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calbridgeSource"


def meeting(subject: str, **extra: object) -> Event:
    return Event(subject=subject, start=at("2026-11-23T09:00:00"), end=at("2026-11-23T10:00:00"), **extra)


def preferring(*values: str) -> RequestConfiguration[object]:
    config: RequestConfiguration[object] = RequestConfiguration()
    for value in values:
        config.headers.add("Prefer", value)
    return config


async def test_given_a_retried_create_with_the_same_transaction_id_then_one_event_exists(
    graph: GraphSandbox,
) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    first = await events.post(meeting("Standup", transaction_id="tx-standup-1"))
    second = await events.post(meeting("Standup", transaction_id="tx-standup-1"))

    assert first is not None and second is not None
    assert second.id == first.id
    state = await graph.control.calendar_state(ALICE)
    assert [e["subject"] for e in state["events"]] == ["Standup"]


async def test_get_patch_delete_round_trip(graph: GraphSandbox) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    created = await events.post(
        meeting("Draft", body=ItemBody(content="<b>hi</b>", content_type=BodyType.Html))
    )
    assert created is not None and created.id
    assert created.type is not None and created.type.value == "singleInstance"
    assert created.i_cal_u_id and created.change_key and created.created_date_time

    patched = await events.by_event_id(created.id).patch(Event(subject="Final", is_online_meeting=True))
    got = await events.by_event_id(created.id).get()

    assert patched is not None and got is not None
    assert got.subject == "Final" and got.body is not None and got.body.content is not None
    assert "<b>hi</b>" in got.body.content  # inside Exchange's HTML document, with the Teams block
    assert got.is_online_meeting and got.online_meeting is not None and got.online_meeting.join_url
    assert got.online_meeting.join_url in got.body.content
    assert got.change_key != created.change_key
    assert got.additional_data["@odata.etag"] == f'W/"{got.change_key}"'
    await events.by_event_id(created.id).delete()
    with pytest.raises(ODataError) as missing:
        await events.by_event_id(created.id).get()
    assert missing.value.response_status_code == 404
    assert missing.value.error is not None and missing.value.error.code == "ErrorItemNotFound"


async def test_extended_property_is_set_expanded_and_filtered(graph: GraphSandbox) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    tagged = await events.post(
        meeting(
            "Mirror",
            single_value_extended_properties=[
                SingleValueLegacyExtendedProperty(id=SOURCE, value="google:abc")
            ],
        )
    )
    await events.post(meeting("Own event"))
    assert tagged is not None and tagged.id

    expanded = await events.by_event_id(tagged.id).get(
        RequestConfiguration(
            query_parameters=EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
                expand=[f"singleValueExtendedProperties($filter=id eq '{SOURCE}')"]
            )
        )
    )
    found = await events.get(
        RequestConfiguration(
            query_parameters=EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
                filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE}' and ep/value eq 'google:abc')"  # noqa: E501
            )
        )
    )

    assert expanded is not None and expanded.single_value_extended_properties
    assert [(p.id, p.value) for p in expanded.single_value_extended_properties] == [(SOURCE, "google:abc")]
    assert found is not None and [e.subject for e in found.value or []] == ["Mirror"]


async def test_immutable_id_survives_a_move_but_the_default_id_does_not(graph: GraphSandbox) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    immutable = preferring('IdType="ImmutableId"')
    created = await events.post(meeting("Planning"), immutable)
    default_form = await events.post(meeting("Review"))
    assert created is not None and created.id and default_form is not None and default_form.id
    work = await graph.control.add_calendar(ALICE, "Work")

    await graph.control.move_event(ALICE, created.id, work["id"])
    moved_default = await graph.control.move_event(ALICE, default_form.id, work["id"])

    still = await events.by_event_id(created.id).get(preferring('IdType="ImmutableId"'))
    assert still is not None and still.id == created.id
    with pytest.raises(ODataError) as gone:
        await events.by_event_id(default_form.id).get()
    assert gone.value.response_status_code == 404
    renamed = await events.by_event_id(moved_default["restId"]).get()
    assert renamed is not None and renamed.subject == "Review"


async def test_times_come_back_in_the_preferred_zone_and_windows_or_iana_names_are_accepted(
    graph: GraphSandbox,
) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    pacific = await events.post(
        Event(
            subject="West",
            start=at("2026-11-23T09:00:00", "Pacific Standard Time"),
            end=at("2026-11-23T10:00:00", "America/Los_Angeles"),
        )
    )
    assert pacific is not None and pacific.id and pacific.start is not None

    in_berlin = await events.by_event_id(pacific.id).get(
        preferring('outlook.timezone="W. Europe Standard Time"')
    )

    assert (pacific.start.date_time, pacific.start.time_zone) == ("2026-11-23T17:00:00.0000000", "UTC")
    assert in_berlin is not None and in_berlin.start is not None
    assert (in_berlin.start.date_time, in_berlin.start.time_zone) == (
        "2026-11-23T18:00:00.0000000",
        "W. Europe Standard Time",
    )
    assert pacific.original_start_time_zone == "Pacific Standard Time"
    with pytest.raises(ODataError) as refused:
        await events.post(
            Event(subject="?", start=at("2026-11-23T09:00:00", "Mars/Olympus"), end=at("2026-11-23T10:00:00"))
        )
    assert refused.value.error is not None and refused.value.error.code == "TimeZoneNotSupportedException"


def attendees(*addresses: str) -> list[Attendee]:
    return [Attendee(email_address=EmailAddress(address=a, name=a)) for a in addresses]


async def test_invitations_are_counted_only_for_writes_that_would_mail_attendees(
    graph: GraphSandbox,
) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    # Given a mirror written without attendees (the way to avoid mailing anyone)
    quiet = await events.post(meeting("Mirror", body=ItemBody(content="Attendees: bob", content_type="text")))
    assert quiet is not None and quiet.id
    await events.by_event_id(quiet.id).patch(Event(subject="Mirror v2"))
    assert graph.counters.invitations == []

    # When the app creates a meeting, then tweaks what attendees do not see, then what they do
    real = await events.post(meeting("Kickoff", attendees=attendees(BOB, "dana@fabrikam.test")))
    assert real is not None and real.id
    await events.by_event_id(real.id).patch(Event(categories=["Blue"]))
    await events.by_event_id(real.id).patch(Event(subject="Kickoff (moved)"))
    # ... and updates its copy of someone else's meeting (an attendee copy mails nobody)
    copy = await graph.control.create_event(
        ALICE,
        {"subject": "Bob's", "start": {"dateTime": "2026-11-24T09:00:00", "timeZone": "UTC"},
         "end": {"dateTime": "2026-11-24T10:00:00", "timeZone": "UTC"},
         "organizer": {"emailAddress": {"address": BOB}},
         "attendees": [{"emailAddress": {"address": ALICE}}]},
    )  # fmt: skip
    await events.by_event_id(copy["id"]).patch(Event(subject="Bob's (noted)"))
    await events.by_event_id(real.id).delete()

    # Then exactly the meeting's creation, visible update and cancellation were mailed
    reasons = [(i.reason, i.recipients) for i in graph.counters.invitations]
    assert reasons == [
        ("meeting created with attendees", 2),
        ("meeting updated", 2),
        ("meeting cancelled", 2),
    ]


async def test_a_mailbox_outside_the_access_policy_is_refused(graph: GraphSandbox) -> None:
    graph.world.allowed_mailboxes = {ALICE}
    client = graph.client()
    assert await client.users.by_user_id(ALICE).events.get() is not None

    with pytest.raises(ODataError) as denied:
        await client.users.by_user_id(BOB).events.get()

    assert denied.value.response_status_code == 403
    assert denied.value.error is not None and denied.value.error.code == "ErrorAccessDenied"


async def test_a_patch_with_a_stale_etag_is_refused_with_412(graph: GraphSandbox) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    created = await events.post(meeting("Contested"))
    assert created is not None and created.id
    stale = created.additional_data["@odata.etag"]
    await graph.control.update_event(ALICE, created.id, {"subject": "Changed by a person"})

    config: RequestConfiguration[object] = RequestConfiguration()
    config.headers.add("If-Match", stale)
    with pytest.raises(ODataError) as conflict:
        await events.by_event_id(created.id).patch(Event(subject="Overwrite"), config)

    assert conflict.value.response_status_code == 412
    got = await events.by_event_id(created.id).get()
    assert got is not None and got.subject == "Changed by a person"
