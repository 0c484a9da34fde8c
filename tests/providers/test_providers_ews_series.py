"""Recurring series through the EWS adapter: occurrences changed and cancelled by original start,
EXDATE lines applied as deleted occurrences, and write-backs to a person's own event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calbridge.model import Attendee, Body, Event, EventStatus, InstanceOf, Recurrence, Timed, content_hash
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from calbridge.providers.ews.adapter import EwsProvider
from sandbox.ews.testing import RunningEws

pytestmark = pytest.mark.integration
MAILBOX = "alice@example.com"
CAL = CalendarAddress(MAILBOX)
STAMP = MirrorStamp("pair-1", "google-series")


def weekly(*extra: str) -> Event:
    start = datetime(2026, 5, 4, 9, tzinfo=UTC)  # a Monday
    return Event(
        id="src",
        span=Timed(start, start + timedelta(hours=1)),
        title="Weekly",
        recurrence=Recurrence(("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", *extra)),
        attendees=(Attendee("bob@example.com"),),
    )


async def read_all(provider: EwsProvider) -> list[Fetched]:
    return [c async for page in provider.changes(CAL, None) for c in page.changes if isinstance(c, Fetched)]


async def test_given_a_mirror_series_when_an_occurrence_is_moved_and_another_cancelled_then_both_read_back(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    master = await ews_provider.create(CAL, weekly(), STAMP)
    wednesday = datetime(2026, 5, 6, 9, tzinfo=UTC)
    moved = replace(
        weekly(),
        id="src-ex",
        recurrence=None,
        title="Moved",
        span=Timed(wednesday + timedelta(hours=2), wednesday + timedelta(hours=3)),
        instance_of=InstanceOf(master.event.id, wednesday),
    )
    cancelled = replace(
        moved,
        status=EventStatus.CANCELLED,
        instance_of=InstanceOf(master.event.id, datetime(2026, 5, 11, 9, tzinfo=UTC)),
    )

    written = await ews_provider.create(CAL, moved, MirrorStamp("pair-1", "google-ex"))
    await ews_provider.create(CAL, cancelled, MirrorStamp("pair-1", "google-cx"))
    await ews_provider.create(CAL, cancelled, MirrorStamp("pair-1", "google-cx"))  # retried: no error
    events = {f.event.title: f.event for f in await read_all(ews_provider)}

    assert written.event.instance_of == InstanceOf(master.event.id, wednesday)
    assert events["Moved"].span == moved.span and events["Moved"].instance_of == moved.instance_of
    assert events["Weekly"].recurrence == Recurrence(
        ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", "EXDATE;TZID=UTC:20260511T090000")
    )
    assert ews.counters.invitations == []


async def test_given_a_series_with_an_exdate_when_mirrored_then_that_occurrence_is_deleted_and_reads_back(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    event = weekly("EXDATE;TZID=UTC:20260506T090000")

    created = await ews_provider.create(CAL, event, STAMP)
    again = await ews_provider.update(CAL, created.event.id, replace(event, title="Weekly v2"), STAMP)

    assert content_hash(created.event) == content_hash(event)
    assert again.event.recurrence == event.recurrence and again.event.title == "Weekly v2"
    view = ews.control.calendar(MAILBOX)
    assert len(view) == 1  # one master; the excluded Wednesday is a deleted occurrence of it
    assert ews.counters.invitations == []


async def test_given_a_persons_own_event_when_written_back_without_a_stamp_then_no_marks_and_no_note(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    own = ews.control.create_item(
        MAILBOX, subject="Mine", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z", body="my notes"
    )
    fetched = await ews_provider.get(CAL, own["id"])
    assert fetched is not None and fetched.stamp is None

    edited = replace(
        fetched.event,
        title="Mine, moved",
        description=Body("my notes"),
        attendees=(Attendee("bob@example.com"),),
    )
    written = await ews_provider.update(CAL, own["id"], edited, None)

    assert written.stamp is None and written.event.title == "Mine, moved"
    assert written.event.description == Body("my notes")  # no mirror note on a person's own event
    assert ews.counters.invitations == []


async def test_given_an_exception_id_when_got_by_id_then_it_names_its_series(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    master = await ews_provider.create(CAL, weekly(), STAMP)
    wednesday = datetime(2026, 5, 6, 9, tzinfo=UTC)
    moved = replace(
        weekly(),
        recurrence=None,
        title="Moved",
        span=Timed(wednesday + timedelta(hours=1), wednesday + timedelta(hours=2)),
        instance_of=InstanceOf(master.event.id, wednesday),
    )
    written = await ews_provider.create(CAL, moved, STAMP)

    got = await ews_provider.get(CAL, written.event.id)

    assert got is not None and got.event.instance_of == InstanceOf(master.event.id, wednesday)
    assert got.event.span == moved.span
