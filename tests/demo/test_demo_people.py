"""The demo's people act on the real sandbox through its control API and read back what a person
would see: the views the scenario's expectations are checked against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from calbridge_app.demo.people import (
    ExchangePerson,
    GooglePerson,
    OutlookPerson,
    next_monday,
    seen_from_freebusy,
)
from calbridge_app.demo.runner import Handles
from calbridge_app.demo.scenario import (
    SCENARIO,
    At,
    CreateEvent,
    DeleteEvent,
    Edit,
    MoveOccurrence,
    Shown,
    shows,
)
from calbridge_app.demo.session import count_duplicates
from sandbox.ews.control import EwsControlClient
from sandbox.graph.client import GraphControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration

BASE = next_monday(datetime(2030, 1, 1, tzinfo=UTC))
CREATES = [step.action for step in SCENARIO if isinstance(step.action, CreateEvent)]


@pytest.fixture
async def people() -> AsyncIterator[dict[str, Any]]:
    async with Sandbox.start(seed=3) as sb:
        endpoints = sb.info.https_endpoints
        async with (
            sb.control() as control,
            GraphControl(endpoints["graph"], sb.tls.client_context()) as graph,
        ):
            ews = EwsControlClient(endpoints["ews"], ssl_context=sb.tls.client_context())
            yield {
                "google": GooglePerson(control, "alice@example.com", "google"),
                "outlook": OutlookPerson(graph, "alice@example.com", "default", "outlook"),
                "exchange": ExchangePerson(ews, "dave@example.com", "exchange"),
            }


def _as_created(action: CreateEvent) -> Any:
    return shows(
        action.title,
        start=action.start,
        end=action.end,
        all_day=action.all_day,
        recurring=bool(action.weekly),
        show_as="oof" if action.out_of_office else None,
    )


@pytest.mark.parametrize("side", ["google", "outlook", "exchange"])
async def test_given_a_person_on_each_side_when_they_create_the_scripted_events_then_they_see_them(
    people: dict[str, Any], side: str
) -> None:
    person, handles = people[side], Handles()
    made = [a for a in CREATES if side != "exchange" or not (a.weekly or a.meet)]

    for action in made:
        handles.created(action.key, side, await person.act(action, handles, BASE))
    seen = {s.id: s for s in await person.look()}

    for action in made:
        found = seen[handles.id_on(action.key, side)]
        assert _as_created(action).met(found, list(seen.values()), BASE), (action, found)
    meet = next(a for a in made if a.meet) if side == "google" else None
    if meet is not None:
        assert "https://meet.google.com/" in seen[handles.id_on(meet.key, side)].text


@pytest.mark.parametrize("side", ["google", "outlook"])
async def test_given_a_series_when_a_person_moves_one_occurrence_then_the_series_shows_it_moved(
    people: dict[str, Any], side: str
) -> None:
    person, handles = people[side], Handles()
    series = CreateEvent("s", "Team sync", At(0, 9), At(0, 9, 30), weekly=4)
    handles.created("s", side, await person.act(series, handles, BASE))

    await person.act(MoveOccurrence("s", At(7, 9), At(8, 11), At(8, 11, 30)), handles, BASE)
    (found,) = await person.look()

    assert shows("Team sync", recurring=True, moved_to=At(8, 11)).met(found, [found], BASE)


@pytest.mark.parametrize("side", ["google", "outlook", "exchange"])
async def test_given_an_event_when_a_person_renames_moves_and_deletes_it_then_they_see_each_change(
    people: dict[str, Any], side: str
) -> None:
    person, handles = people[side], Handles()
    handles.created(
        "r", side, await person.act(CreateEvent("r", "Review", At(1, 10), At(1, 11)), handles, BASE)
    )

    await person.act(Edit("r", title="Review v2"), handles, BASE)
    await person.act(Edit("r", start=At(1, 14), end=At(1, 15)), handles, BASE)
    (found,) = await person.look()
    assert shows("Review v2", start=At(1, 14), end=At(1, 15)).met(found, [found], BASE)

    await person.act(DeleteEvent("r"), handles, BASE)
    assert await person.look() == []


def test_free_busy_blocks_of_the_asked_address_are_read_in_utc() -> None:
    answer = {
        "results": {
            "carol@example.com": {
                "busy": [
                    {
                        "start": "2030-01-09T09:00:00+01:00",
                        "end": "2030-01-09T10:00:00+01:00",
                        "status": "busy",
                    }
                ]
            }
        }
    }

    (block,) = seen_from_freebusy(answer, "Carol@example.com")

    assert block.start == datetime(2030, 1, 9, 8, tzinfo=UTC) and block.show_as == "busy"
    assert seen_from_freebusy({"results": {}}, "dave@example.com") == []


def test_two_events_with_one_stamp_on_a_calendar_count_as_one_duplicate() -> None:
    def mirror(event_id: str, source: str) -> Shown:
        return Shown(event_id, "Review", BASE, BASE, source=source, pair="p1")

    calendars = {
        "a": [mirror("m1", "e1"), mirror("m2", "e1"), mirror("m3", "e2")],
        "b": [Shown("e1", "Review", BASE, BASE), Shown("e2", "Review", BASE, BASE)],
    }

    assert count_duplicates(calendars) == 1
    assert count_duplicates({"a": [mirror("m1", "e1")]}) == 0
