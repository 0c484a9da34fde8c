"""Google writes: idempotent creates, finding mirrors, updates and deletes that mail nobody,
and exact times through a write and a read."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from providers_support import ALICE, all_day, meeting, stamp

from calbridge.errors import AlreadyExists, NotFound
from calbridge.model import Attendee, Body, Person
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.providers.google.adapter import GoogleCalendar, mirror_id
from sandbox.client import SandboxControl

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)


async def live_events(control: SandboxControl) -> list[dict[str, Any]]:
    state = await control.google.calendar(ALICE)
    return [e for e in state["events"] if e.get("status") != "cancelled"]


def test_given_a_stamp_when_deriving_the_mirror_id_then_it_is_a_stable_valid_google_id() -> None:
    first = mirror_id(stamp("a"))
    assert first == mirror_id(stamp("a")) != mirror_id(stamp("b"))
    assert set(first) <= set("0123456789abcdefghijklmnopqrstuv") and 5 <= len(first) <= 1024
    assert mirror_id(stamp("a", pair="p2")) != first


async def test_given_the_same_stamp_when_creating_twice_then_one_event_exists(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    first = await google.create(HERE, meeting("Planning"), stamp())
    # The second create is what a retry after a lost answer does: it must adopt the first.
    second = await google.create(HERE, meeting("Planning"), stamp())
    assert second.event.id == first.event.id == mirror_id(stamp())
    assert second.stamp == stamp()
    assert [e["summary"] for e in await live_events(control)] == ["Planning"]


async def test_given_a_retry_carrying_newer_content_when_it_adopts_then_the_newer_content_is_written(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    await google.create(HERE, meeting("Old title"), stamp())
    adopted = await google.create(HERE, meeting("New title"), stamp())
    assert adopted.event.title == "New title"
    assert [e["summary"] for e in await live_events(control)] == ["New title"]


async def test_given_a_deleted_mirror_when_created_again_then_its_tombstone_is_restored(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    made = await google.create(HERE, meeting(), stamp())
    await control.google.delete_event(ALICE, made.event.id)
    again = await google.create(HERE, meeting("Back"), stamp())
    assert again.event.id == made.event.id and not again.event.cancelled
    assert [e["summary"] for e in await live_events(control)] == ["Back"]


async def test_given_someone_elses_event_under_the_mirror_id_when_creating_then_already_exists(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    body = {"id": mirror_id(stamp()), "summary": "Not ours", **_span()}
    await control.google.create_event(ALICE, body)
    with pytest.raises(AlreadyExists):
        await google.create(HERE, meeting(), stamp())
    assert [e["summary"] for e in await live_events(control)] == ["Not ours"]


async def test_given_a_mirror_when_finding_it_by_stamp_then_it_is_found_and_others_are_not(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    made = await google.create(HERE, meeting(), stamp("s1"))
    found = await google.find_mirror(HERE, stamp("s1"))
    assert found is not None and found.event.id == made.event.id
    assert await google.find_mirror(HERE, stamp("s2")) is None


async def test_given_a_stamped_event_under_another_id_when_finding_then_the_property_filter_finds_it(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    private = {"calbridgePair": "pair-1", "calbridgeSource": "legacy"}
    made = await control.google.create_event(
        ALICE, {"summary": "Legacy", "extendedProperties": {"private": private}, **_span()}
    )
    found = await google.find_mirror(HERE, stamp("legacy"))
    assert found is not None and found.event.id == made["id"]


async def test_given_a_mirror_an_earlier_pair_of_the_same_calendars_made_then_the_new_pair_meets_it(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    # Given: pair-1 made a mirror, stamped with the pairing key of its two calendars
    earlier = MirrorStamp("pair-1", "src-1", "key-of-the-two-calendars")
    made = await google.create(HERE, meeting("Planning"), earlier)
    assert made.stamp == earlier
    # When: pair-2 of the same calendars looks for it and creates it
    again = MirrorStamp("pair-2", "src-1", "key-of-the-two-calendars")
    assert mirror_id(again) == mirror_id(earlier)  # the id comes from the pairing, not the pair
    found = await google.find_mirror(HERE, again)
    created = await google.create(HERE, meeting("Planning"), again)
    # Then: both are the earlier mirror, now carrying pair-2's stamp; other calendars' is not ours
    assert found is not None and found.event.id == made.event.id == created.event.id
    assert created.stamp == again
    assert [e["summary"] for e in await live_events(control)] == ["Planning"]
    assert await google.find_mirror(HERE, MirrorStamp("pair-3", "src-1", "other-calendars")) is None


async def test_given_an_older_mirror_without_a_pairing_key_under_another_id_then_its_own_pair_finds_it(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    # Written before the pairing key existed: found by its pair id through the source filter
    private = {"calbridgePair": "pair-1", "calbridgeSource": "src-9"}
    made = await control.google.create_event(
        ALICE, {"summary": "Older", "extendedProperties": {"private": private}, **_span()}
    )
    found = await google.find_mirror(HERE, MirrorStamp("pair-1", "src-9", "key-of-the-two-calendars"))
    assert found is not None and found.event.id == made["id"]
    assert await google.find_mirror(HERE, MirrorStamp("pair-2", "src-9", "key-of-the-two-calendars")) is None


async def test_given_a_mirror_when_updating_then_deleting_twice_then_the_second_delete_is_not_found(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    made = await google.create(HERE, meeting("Draft"), stamp())
    updated = await google.update(HERE, made.event.id, meeting("Final"), stamp())
    assert updated.event.title == "Final" and updated.version != made.version
    assert (await google.get(HERE, made.event.id)).event.title == "Final"  # type: ignore[union-attr]

    await google.delete(HERE, made.event.id)
    assert await live_events(control) == []
    with pytest.raises(NotFound):
        await google.delete(HERE, made.event.id)
    with pytest.raises(NotFound):
        await google.update(HERE, "doesnotexist0", meeting(), stamp())
    assert await google.get(HERE, "doesnotexist0") is None


async def test_given_a_meeting_with_attendees_when_mirrored_then_every_write_says_none_and_no_one_is_invited(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    source = meeting()
    guests = (Attendee("bob@example.com"), Attendee("erin@partner.example"))
    source = replace(source, organizer=Person("carol@example.com"), attendees=guests)
    made = await google.create(HERE, source, stamp())
    await google.create(HERE, source, stamp())  # adopt path writes too
    await google.update(HERE, made.event.id, replace(source, title="Moved"), stamp())
    await google.delete(HERE, made.event.id)

    counters = await control.counters()
    assert counters["invitations"] == []
    writes = Counter(counters["send_updates"])
    assert set(writes) == {"none"} and writes["none"] >= 4


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
async def test_given_a_dst_zone_event_when_written_and_read_then_times_and_zone_are_exact(
    google: GoogleCalendar, control: SandboxControl, zone: str
) -> None:
    source = meeting(zone=zone, day="2026-11-01")  # the US fall-back day
    made = await google.create(HERE, source, stamp())
    read = await google.get(HERE, made.event.id)
    assert read is not None and read.event.span == source.span


async def test_given_an_all_day_event_when_written_and_read_then_the_dates_are_exact(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    made = await google.create(HERE, all_day(), stamp())
    read = await google.get(HERE, made.event.id)
    assert read is not None and read.event.span == all_day().span and read.stamp == stamp()


def _span() -> dict[str, Any]:
    return {
        "start": {"dateTime": "2026-12-02T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-12-02T10:00:00", "timeZone": "Europe/Berlin"},
    }


async def test_given_an_html_description_when_written_and_read_then_the_markup_round_trips(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    source = replace(meeting(), description=Body("<p>Agenda: <b>numbers</b></p>", html=True))
    made = await google.create(HERE, source, stamp())
    read = await google.get(HERE, made.event.id)
    assert read is not None and read.event.description == source.description


async def test_given_a_persons_event_with_an_email_reminder_when_written_back_then_the_email_stays(
    google: GoogleCalendar, control: SandboxControl
) -> None:
    # Given: Alice's own event with a 10-minute pop-up and a 60-minute e-mail reminder
    reminders = {
        "useDefault": False,
        "overrides": [{"method": "popup", "minutes": 10}, {"method": "email", "minutes": 60}],
    }
    made = await control.google.create_event(
        ALICE,
        {
            "summary": "Own",
            "start": {"dateTime": "2027-01-05T09:00:00Z"},
            "end": {"dateTime": "2027-01-05T10:00:00Z"},
            "reminders": reminders,
        },
    )
    read = await google.get(HERE, made["id"])
    assert read is not None and read.event.reminders == (10,)  # what Outlook's one reminder holds

    # When: its Outlook copy's reminder moves to 15 minutes and is written back
    await google.update(HERE, made["id"], replace(read.event, reminders=(15,)), None)

    # Then: the pop-up follows, and the e-mail reminder Outlook never saw is still there
    [stored] = [e for e in await live_events(control) if e["id"] == made["id"]]
    assert sorted((o["method"], o["minutes"]) for o in stored["reminders"]["overrides"]) == [
        ("email", 60),
        ("popup", 15),
    ]
