"""Every Google answer calbridge relies on, checked against Google's own description of it.

The reference is the Calendar v3 discovery document that google-api-python-client ships
(`googleapiclient/discovery_cache/documents/calendar.v3.json`), written by Google, not by this
project. Its schemas become JSON Schema with `additionalProperties: false`, so a field the API
does not define fails as surely as a field of the wrong type. Which schema answers which method
is read from the same document. Error bodies have no discovery schema; they are checked against
the shape of Google's errors guide.

The events are realistic on purpose: a weekly series with a moved and a cancelled instance,
guests inside and outside the domain, Meet conference data, an all-day event, extended
properties, tombstones, a guest's copy and an incremental sync page.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient
import jsonschema
import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, BOB, Receiver, call, timed

from sandbox.people import EXTERNAL_GUEST
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration

DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"

# Google's error body (errors guide): no discovery schema describes it.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message", "errors"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string", "pattern": "^[A-Z_]+$"},
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["domain", "reason", "message"],
                        "properties": {
                            "domain": {"type": "string"},
                            "reason": {"type": "string"},
                            "message": {"type": "string"},
                            "location": {"type": "string"},
                            "locationType": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def _json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One discovery schema node as JSON Schema; objects refuse properties they do not define."""
    if "$ref" in node:
        return {"$ref": f"#/definitions/{node['$ref']}"}
    kind = node.get("type")
    if kind == "object":
        shaped: dict[str, Any] = {
            "type": "object",
            "properties": {name: _json_schema(sub) for name, sub in node.get("properties", {}).items()},
        }
        extra = node.get("additionalProperties")
        shaped["additionalProperties"] = _json_schema(extra) if extra is not None else False
        return shaped
    if kind == "array":
        return {"type": "array", "items": _json_schema(node.get("items", {}))}
    if kind == "any" or kind is None:
        return {}
    if kind == "string" and "enum" in node:
        return {"type": "string", "enum": node["enum"]}
    return {"type": kind}


@cache
def _discovery() -> dict[str, Any]:
    return dict(json.loads(DISCOVERY.read_text()))


@cache
def _definitions() -> dict[str, Any]:
    return {name: _json_schema(schema) for name, schema in _discovery()["schemas"].items()}


def _response_schema(method: str) -> str:
    """`events.list` -> `Events`: the schema Google names as the method's response."""
    resource, verb = method.split(".")
    return str(_discovery()["resources"][resource]["methods"][verb]["response"]["$ref"])


def conforms(answer: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/definitions/{schema_name}", "definitions": _definitions()}
    jsonschema.Draft7Validator(schema).validate(answer)


def conforms_to_method(answer: Any, method: str) -> None:
    conforms(answer, _response_schema(method))


# -- the check itself can fail -------------------------------------------------------------------


def test_given_the_discovery_schemas_when_a_field_is_unknown_or_mistyped_then_validation_fails() -> None:
    good = {"kind": "calendar#event", "id": "abc", "start": {"dateTime": "2026-12-01T09:00:00Z"}}
    conforms(good, "Event")

    with pytest.raises(jsonschema.ValidationError, match="originalStart"):
        conforms({**good, "originalStart": "x"}, "Event")
    with pytest.raises(jsonschema.ValidationError):
        conforms({**good, "attendees": [{"email": "a@example.com", "isOrganizer": True}]}, "Event")
    with pytest.raises(jsonschema.ValidationError):
        conforms({**good, "sequence": "1"}, "Event")
    assert _response_schema("events.list") == "Events"
    assert _response_schema("freebusy.query") == "FreeBusyResponse"


# -- realistic events ----------------------------------------------------------------------------


async def _realistic(sb: Sandbox, alice_events: Any) -> dict[str, Any]:
    """A week's worth of Alice's calendar, written through the API as calbridge writes."""
    meet = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    series = await call(
        alice_events.insert(
            calendarId="primary",
            body={
                "summary": "Weekly sync",
                "description": "<b>Agenda</b>",
                "location": "Room 1",
                **timed("2026-12-01", "09:00", "10:00", "Europe/Berlin"),
                "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=Europe/Berlin:20261222T090000"],
                "attendees": [{"email": BOB}, {"email": EXTERNAL_GUEST, "optional": True}],
                "conferenceData": meet,
                "extendedProperties": {"private": {"calbridgeSource": "x"}, "shared": {"topic": "plan"}},
                "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
            },
            conferenceDataVersion=1,
            sendUpdates="none",
        )
    )
    instances = (await call(alice_events.instances(calendarId="primary", eventId=series["id"])))["items"]
    moved = await call(
        alice_events.patch(
            calendarId="primary",
            eventId=instances[1]["id"],
            body={**timed("2026-12-08", "11:00", "12:00", "Europe/Berlin"), "summary": "Moved sync"},
        )
    )
    await call(alice_events.delete(calendarId="primary", eventId=instances[2]["id"]))
    all_day = await call(
        alice_events.insert(
            calendarId="primary",
            body={"summary": "Offsite", "start": {"date": "2026-12-03"}, "end": {"date": "2026-12-05"}},
        )
    )
    replaced = await call(
        alice_events.update(
            calendarId="primary",
            eventId=all_day["id"],
            body={
                "summary": "Offsite (moved)",
                "start": {"date": "2026-12-04"},
                "end": {"date": "2026-12-06"},
                "transparency": "transparent",
            },
        )
    )
    gone = await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "Dropped", **timed("2026-12-02", "08:00", "08:30")}
        )
    )
    await call(alice_events.delete(calendarId="primary", eventId=gone["id"]))
    return {
        "series": series,
        "instances": instances,
        "moved": moved,
        "all_day": all_day,
        "replaced": replaced,
    }


async def test_given_realistic_events_when_written_and_read_then_every_answer_matches_the_discovery_schemas(
    sb: Sandbox, alice_events: Any
) -> None:
    start = await call(alice_events.list(calendarId="primary"))
    written = await _realistic(sb, alice_events)

    conforms_to_method(written["series"], "events.insert")
    conforms_to_method(written["all_day"], "events.insert")
    conforms_to_method(written["moved"], "events.patch")
    conforms_to_method(written["replaced"], "events.update")
    conforms_to_method(
        await call(alice_events.get(calendarId="primary", eventId=written["series"]["id"])), "events.get"
    )
    conforms_to_method(
        await call(alice_events.get(calendarId="primary", eventId=written["moved"]["id"])), "events.get"
    )
    listings = [
        await call(alice_events.list(calendarId="primary")),
        await call(alice_events.list(calendarId="primary", showDeleted=True, maxResults=2)),
        await call(
            alice_events.list(
                calendarId="primary", singleEvents=True, orderBy="startTime", timeZone="Asia/Tokyo"
            )
        ),
        await call(alice_events.list(calendarId="primary", syncToken=start["nextSyncToken"])),
        await call(
            alice_events.instances(calendarId="primary", eventId=written["series"]["id"], showDeleted=True)
        ),
    ]
    for listing in listings:
        conforms_to_method(listing, "events.list")
    kinds = {item.get("status") for listing in listings for item in listing["items"]}
    assert kinds == {"confirmed", "cancelled"}  # tombstones were among what was checked

    bob_copy = await call(
        sb.google_service(BOB).events().get(calendarId="primary", eventId=written["series"]["id"])
    )
    conforms_to_method(bob_copy, "events.get")


async def test_given_calendars_when_listing_and_getting_then_answers_match_the_discovery_schemas(
    sb: Sandbox, alice_events: Any
) -> None:
    service = sb.google_service(ALICE)
    conforms_to_method(await call(service.calendarList().list()), "calendarList.list")
    conforms_to_method(await call(service.calendars().get(calendarId="primary")), "calendars.get")
    conforms_to_method(await call(service.calendars().get(calendarId=sb.info.team_calendar)), "calendars.get")


async def test_given_busy_and_unknown_calendars_when_querying_free_busy_then_the_answer_matches_the_schema(
    sb: Sandbox, alice_events: Any
) -> None:
    await _realistic(sb, alice_events)
    answer = await call(
        sb.google_service(ALICE)
        .freebusy()
        .query(
            body={
                "timeMin": "2026-11-30T00:00:00Z",
                "timeMax": "2026-12-31T00:00:00Z",
                "timeZone": "Europe/Berlin",
                "items": [{"id": "primary"}, {"id": BOB}, {"id": "nobody@example.com"}],
            }
        )
    )

    conforms_to_method(answer, "freebusy.query")
    assert answer["calendars"]["primary"]["busy"] and answer["calendars"]["nobody@example.com"]["errors"]


async def test_given_a_watch_when_opened_and_stopped_then_the_channel_matches_the_schema(
    sb: Sandbox, alice_events: Any, receiver: Receiver
) -> None:
    channel = await call(
        alice_events.watch(
            calendarId="primary",
            body={"id": "chan-conformance", "type": "web_hook", "address": receiver.url, "token": "t=1"},
        )
    )
    conforms_to_method(channel, "events.watch")

    stopped = await call(
        sb.google_service(ALICE)
        .channels()
        .stop(body={"id": channel["id"], "resourceId": channel["resourceId"]})
    )
    assert stopped == ""  # 204, no body: the discovery document names no response for channels.stop
    assert "response" not in _discovery()["resources"]["channels"]["methods"]["stop"]


async def test_given_failing_calls_when_google_answers_errors_then_each_body_has_googles_error_shape(
    sb: Sandbox, alice_events: Any
) -> None:
    failures = [
        alice_events.get(calendarId="primary", eventId="missing00"),
        alice_events.insert(calendarId="primary", body={"summary": "no times"}),
        alice_events.list(calendarId="primary", syncToken="Cunknown"),
        sb.google_service(ALICE).calendars().get(calendarId="nobody@example.com"),
    ]
    statuses = []
    for request in failures:
        with pytest.raises(HttpError) as caught:
            await call(request)
        statuses.append(caught.value.status_code)
        jsonschema.validate(json.loads(caught.value.content), ERROR_SCHEMA)

    assert statuses == [404, 400, 410, 404]
