"""The meeting list's pure pieces: an event and its mirror are one meeting, privacy, join URLs,
and the person's calendars chosen from the store's pairs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from calbridge.events import Provider
from calbridge.meetings.calendars import PairSides, SideCalendar, calendars_of
from calbridge.meetings.join import join_url_of
from calbridge.meetings.merge import merge_meetings
from calbridge.meetings.types import BUSY_TITLE, CalendarRead, PersonCalendar
from calbridge.model import (
    AllDay,
    Body,
    Event,
    EventStatus,
    InstanceOf,
    MeetingProvider,
    OnlineMeeting,
    Person,
    Sensitivity,
    Timed,
)
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp

ADA = "ada@example.com"
MEET = "https://meet.google.com/abc-defg-hij"
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC)


def event(event_id: str, start: int, end: int, title: str = "Review", **extra: object) -> Event:
    return Event(id=event_id, span=Timed(at(start), at(end)), title=title, **extra)  # type: ignore[arg-type]


def calendar(provider: Provider, owner: str = ADA, detail: Detail = Detail.FULL) -> PersonCalendar:
    connection = f"{provider}-main"
    return PersonCalendar(connection, provider, CalendarAddress(owner), detail, frozenset({"p1"}))


def read(cal: PersonCalendar, *fetched: Fetched) -> CalendarRead:
    return CalendarRead(cal, tuple(fetched))


def fetched(ev: Event, stamp: MirrorStamp | None = None) -> Fetched:
    return Fetched(event=ev, version="1", stamp=stamp)


GOOGLE, GRAPH = calendar(Provider.GOOGLE), calendar(Provider.GRAPH)


def test_given_an_event_and_its_mirror_when_merged_then_one_meeting_with_its_join_url() -> None:
    original = event(
        "g1", 9, 10, online_meeting=OnlineMeeting(MeetingProvider.GOOGLE_MEET, MEET), organizer=Person(ADA)
    )
    mirror = event("m1", 9, 10, description=Body(f"Join: {MEET}"))
    meetings = merge_meetings(
        [read(GOOGLE, fetched(original)), read(GRAPH, fetched(mirror, MirrorStamp("p1", "g1")))]
    )
    assert len(meetings) == 1
    assert meetings[0].provider is Provider.GOOGLE
    assert meetings[0].join_url == MEET
    assert meetings[0].also_on == (Provider.GRAPH,)
    assert meetings[0].organizer == ADA


def test_given_an_occurrence_and_its_mirror_when_merged_then_matched_by_series_and_start() -> None:
    occurrence = event("g1_20261123T090000Z", 9, 10, instance_of=InstanceOf("g1", at(9)))
    mirror = event("m-occ", 9, 10)
    meetings = merge_meetings(
        [read(GOOGLE, fetched(occurrence)), read(GRAPH, fetched(mirror, MirrorStamp("p1", "g1")))]
    )
    assert [m.event_id for m in meetings] == ["g1_20261123T090000Z"]


def test_given_a_mirror_whose_original_was_not_read_then_the_mirror_stands_for_the_meeting() -> None:
    mirror = event("m1", 9, 10, title="Planning")
    meetings = merge_meetings([read(GRAPH, fetched(mirror, MirrorStamp("p1", "gone")))])
    assert [(m.title, m.provider) for m in meetings] == [("Planning", Provider.GRAPH)]


def test_given_a_stamp_of_a_pair_not_the_persons_then_it_is_a_meeting_of_its_own() -> None:
    original = event("g1", 9, 10, title="A")
    foreign = event("m1", 9, 10, title="B")
    meetings = merge_meetings(
        [read(GOOGLE, fetched(original)), read(GRAPH, fetched(foreign, MirrorStamp("other-pair", "g1")))]
    )
    assert [m.title for m in meetings] == ["A", "B"]


def test_given_the_same_invitation_on_both_suites_then_shown_once() -> None:
    on_google = event("g1", 9, 10, title="All hands")
    on_outlook = event("m1", 9, 10, title="All hands ", location=TEAMS)
    meetings = merge_meetings([read(GOOGLE, fetched(on_google)), read(GRAPH, fetched(on_outlook))])
    assert len(meetings) == 1
    assert meetings[0].join_url == TEAMS.split("?")[0] + "?context=%7b%7d"
    assert meetings[0].also_on == (Provider.GRAPH,)


def test_given_private_and_busy_only_events_then_they_show_busy_and_no_details() -> None:
    private = event("g1", 9, 10, title="Doctor", sensitivity=Sensitivity.PRIVATE, location=MEET)
    across = calendar(Provider.GRAPH, owner="ada@contoso.com", detail=Detail.BUSY)
    shared = event("m1", 11, 12, title="Board", location="Room 1")
    meetings = merge_meetings([read(GOOGLE, fetched(private)), read(across, fetched(shared))])
    assert [(m.title, m.location, m.join_url, m.private) for m in meetings] == [
        (BUSY_TITLE, None, None, True),
        (BUSY_TITLE, None, None, True),
    ]


def test_given_events_out_of_order_and_cancelled_then_sorted_and_cancelled_left_out() -> None:
    late, early = event("a", 15, 16, title="Late"), event("b", 8, 9, title="Early")
    gone = event("c", 10, 11, title="Gone", status=EventStatus.CANCELLED)
    all_day = Event(id="d", span=AllDay(date(2026, 11, 23), date(2026, 11, 24)), title="Holiday")
    meetings = merge_meetings([read(GOOGLE, *(fetched(e) for e in (late, early, gone, all_day)))])
    assert [m.title for m in meetings] == ["Holiday", "Early", "Late"]
    assert meetings[0].all_day


def test_join_urls_are_found_in_location_then_body_for_each_service() -> None:
    zoom = "https://example.zoom.us/j/123456789?pwd=abc"
    webex = "https://acme.webex.com/meet/ada"
    assert join_url_of(event("x", 9, 10, location=f"Zoom: {zoom}.")) == zoom
    assert join_url_of(event("x", 9, 10, description=Body(f"<a href='{webex}'>join</a>", html=True))) == webex
    assert join_url_of(event("x", 9, 10, location="Room 4, https://example.com/not-a-meeting")) is None


def test_a_persons_calendars_are_both_sides_of_their_pairs_with_the_pairs_detail() -> None:
    google = SideCalendar("g", Provider.GOOGLE, ADA, "primary")
    outlook = SideCalendar("m", Provider.GRAPH, "ada@contoso.com", "primary")
    other = SideCalendar("g", Provider.GOOGLE, "bob@example.com", "primary")
    pairs = [
        PairSides("p1", Detail.BUSY, google, outlook),
        PairSides("p2", Detail.FULL, other, SideCalendar("m", Provider.GRAPH, "bob@contoso.com", "primary")),
    ]
    found = calendars_of(ADA, pairs)
    assert [(c.provider, c.address.owner, c.detail) for c in found] == [
        (Provider.GOOGLE, ADA, Detail.FULL),
        (Provider.GRAPH, "ada@contoso.com", Detail.BUSY),
    ]
    assert calendars_of("carol@example.com", pairs) == []
