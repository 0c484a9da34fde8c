"""Graph writes: idempotent creates (transactionId), finding mirrors by stamp, updates and
deletes that mail nobody, exact times through a write and a read."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from providers_support import ALICE, all_day, meeting, stamp

from calbridge.errors import NotFound
from calbridge.model import Attendee, Body, Person
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.providers.graph.adapter import GraphCalendar, transaction_id
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)


async def stored(graph_control: GraphControl) -> list[dict[str, Any]]:
    return list((await graph_control.calendar_state(ALICE))["events"])


def test_given_a_stamp_when_deriving_the_transaction_id_then_it_is_stable_and_distinct() -> None:
    assert transaction_id(stamp("a")) == transaction_id(stamp("a")) != transaction_id(stamp("b"))


async def test_given_the_same_stamp_when_creating_twice_then_one_event_exists(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    first = await graph.create(HERE, meeting("Planning"), stamp())
    # What a retry after a lost answer does: the transactionId makes Graph return the first event.
    second = await graph.create(HERE, meeting("Planning"), stamp())
    assert second.event.id == first.event.id and second.stamp == stamp()
    assert [e["subject"] for e in await stored(graph_control)] == ["Planning"]


async def test_given_a_mirror_when_reading_it_then_stamp_title_and_times_come_back(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph.create(HERE, meeting("Planning"), stamp())
    read = await graph.get(HERE, made.event.id)
    assert read is not None
    assert read.stamp == stamp() and read.event.title == "Planning"
    assert read.event.span == meeting().span and read.version == made.version


async def test_given_a_mirror_when_finding_it_by_stamp_then_it_is_found_and_others_are_not(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph.create(HERE, meeting(), stamp("s1"))
    await graph.create(HERE, meeting(), stamp("s2"))
    found = await graph.find_mirror(HERE, stamp("s1"))
    assert found is not None and found.event.id == made.event.id and found.stamp == stamp("s1")
    assert await graph.find_mirror(HERE, stamp("s3")) is None


async def test_given_a_mirror_an_earlier_pair_of_the_same_calendars_made_then_the_new_pair_finds_it(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    earlier = MirrorStamp("pair-1", "s1", "key-of-the-two-calendars")
    made = await graph.create(HERE, meeting(), earlier)
    read = await graph.get(HERE, made.event.id)
    assert read is not None and read.stamp == earlier  # the pairing mark reads back
    found = await graph.find_mirror(HERE, MirrorStamp("pair-2", "s1", "key-of-the-two-calendars"))
    assert found is not None and found.event.id == made.event.id
    assert await graph.find_mirror(HERE, MirrorStamp("pair-3", "s1", "other-calendars")) is None
    # a new pair's transactionId is its own: a create would never collide with the earlier one
    assert transaction_id(MirrorStamp("pair-2", "s1", "key-of-the-two-calendars")) != transaction_id(earlier)


async def test_given_a_mirror_when_updating_then_deleting_twice_then_the_second_delete_is_not_found(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph.create(HERE, meeting("Draft"), stamp())
    updated = await graph.update(HERE, made.event.id, meeting("Final"), stamp())
    assert updated.event.title == "Final" and updated.version != made.version
    read = await graph.get(HERE, made.event.id)
    assert read is not None and read.event.title == "Final" and read.stamp == stamp()

    await graph.delete(HERE, made.event.id)
    assert await stored(graph_control) == []
    with pytest.raises(NotFound):
        await graph.delete(HERE, made.event.id)
    assert await graph.get(HERE, made.event.id) is None


async def test_given_a_meeting_with_attendees_when_mirrored_then_no_one_is_invited(
    graph: GraphCalendar, graph_control: GraphControl, control: SandboxControl
) -> None:
    guests = (Attendee("bob@example.com"), Attendee("erin@partner.example"))
    source = replace(meeting(), organizer=Person("carol@example.com"), attendees=guests)
    made = await graph.create(HERE, source, stamp())
    await graph.update(HERE, made.event.id, replace(source, title="Moved"), stamp())
    await graph.delete(HERE, made.event.id)
    counters = await control.counters()
    assert counters["invitations"] == []
    writes = {c["operation"]: c["count"] for c in counters["calls"] if c["status"] < 300}
    assert writes.get("graph.events.create") == 1 and writes.get("graph.events.delete") == 1


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
async def test_given_a_dst_zone_event_when_written_and_read_then_times_and_zone_are_exact(
    graph: GraphCalendar, graph_control: GraphControl, zone: str
) -> None:
    source = meeting(zone=zone, day="2026-11-01")  # the US fall-back day
    made = await graph.create(HERE, source, stamp())
    read = await graph.get(HERE, made.event.id)
    assert read is not None and read.event.span == source.span


async def test_given_an_all_day_event_when_written_and_read_then_the_dates_are_exact(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    made = await graph.create(HERE, all_day(), stamp())
    read = await graph.get(HERE, made.event.id)
    assert read is not None and read.event.span == all_day().span and read.stamp == stamp()


async def test_given_the_sandbox_when_connecting_then_microsoft_endpoints_are_known(sandbox: Sandbox) -> None:
    assert sandbox.info.microsoft["graph_url"].startswith("https://127.0.0.1")


async def test_given_an_html_description_when_written_and_read_then_the_markup_round_trips(
    graph: GraphCalendar, graph_control: GraphControl
) -> None:
    source = replace(meeting(), description=Body("<p>Agenda: <b>numbers</b></p>", html=True))
    made = await graph.create(HERE, source, stamp())
    read = await graph.get(HERE, made.event.id)
    assert read is not None and read.event.description == source.description
