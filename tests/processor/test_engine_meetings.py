"""A meeting asked for by a keyword, through the engine with in-memory calendars: made once,
its link written back once, no echo, and a write back that fails is completed by the next pass
without a second meeting."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sync_fakes import Clock, FakeCalendar

from calbridge.errors import TransientProviderError
from calbridge.events import Provider
from calbridge.model import Event, MeetingProvider, OnlineMeeting, Timed
from calbridge.pairs.policy import MeetingLinks, Policy, Side
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from calbridge.translate.meetings import DEFAULT_KEYWORDS
from processor.sync.engine import CalendarSide, Hint, PairContext, run_pass
from processor.sync.memory_links import MemoryLinks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINKS = MeetingLinks(
    tuple(DEFAULT_KEYWORDS.items()),
    ((Side.GOOGLE, MeetingProvider.GOOGLE_MEET), (Side.MICROSOFT, MeetingProvider.TEAMS)),
    frozenset({Side.GOOGLE}),
)


class MeetCalendar(FakeCalendar):
    """Makes a Meet for an event that asks for one, as Google does for a createRequest."""

    made = 0

    def _meet(self, event: Event) -> Event:
        meeting = event.online_meeting
        if meeting is not None and meeting.requested and meeting.provider is MeetingProvider.GOOGLE_MEET:
            self.made += 1
            return dataclasses.replace(
                event,
                online_meeting=OnlineMeeting(
                    MeetingProvider.GOOGLE_MEET, f"https://meet.google.com/aaa-bbbb-{self.made:03d}"
                ),
            )
        return event

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        return await super().create(calendar, self._meet(event), stamp)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        return await super().update(calendar, event_id, self._meet(event), stamp)


def world() -> tuple[MeetCalendar, FakeCalendar, PairContext, MemoryLinks]:
    clock = Clock()
    google = MeetCalendar(Provider.GOOGLE, "g", clock, removals="cancelled")
    outlook = FakeCalendar(Provider.GRAPH, "m", clock)
    pair = PairContext(
        Policy("p1", meeting_links=LINKS),
        CalendarSide("calg", CalendarAddress("ann@example.com"), google),
        CalendarSide("calm", CalendarAddress("ann@example.com"), outlook),
    )
    return google, outlook, pair, MemoryLinks()


def standup() -> Event:
    return Event(id="", span=Timed(T0, T0 + timedelta(minutes=30)), title="standup", location="Room 4 @meet")


async def test_given_meet_typed_in_outlook_when_synced_then_one_meet_and_the_link_written_back_once() -> None:
    google, outlook, pair, links = world()
    origin = outlook.person_create(standup())
    await run_pass(pair, links, Hint("calm"))
    (mirror,) = google.live().values()
    assert google.made == 1 and mirror.event.location == "Room 4"
    written = outlook.events[origin].event
    assert written.online_meeting == mirror.event.online_meeting and written.location == "Room 4"
    # the echoes of both writes are skipped: nothing more is written on either side
    writes = google.writes + outlook.writes
    await run_pass(pair, links, Hint("calg"))
    await run_pass(pair, links, Hint("calm"))
    assert google.writes + outlook.writes == writes and google.made == 1


async def test_given_the_write_back_fails_when_replayed_then_it_completes_without_a_second_meet() -> None:
    google, outlook, pair, links = world()
    origin = outlook.person_create(standup())
    outlook.faults.append("before")  # the write back to Outlook times out
    with pytest.raises(TransientProviderError):
        await run_pass(pair, links, Hint("calm"))
    assert google.made == 1 and outlook.events[origin].event.online_meeting is None
    await run_pass(pair, links, Hint("calm"))  # the hint is redelivered
    assert google.made == 1 and len(google.live()) == 1
    assert (
        outlook.events[origin].event.online_meeting == next(iter(google.live().values())).event.online_meeting
    )
