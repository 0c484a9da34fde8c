"""The planner and meeting links: a keyword asks for a meeting only where the pair, the providers
and the attendees allow it; Google's special event types meet their declared fate."""

from __future__ import annotations

from datetime import UTC, date, datetime

from calbridge.model import (
    NOT_MIRRORED,
    WORKING_LOCATION,
    AllDay,
    Attendee,
    Event,
    MeetingProvider,
    OnlineMeeting,
    Person,
    ShowAs,
    Timed,
)
from calbridge.pairs.policy import Detail, Direction, MeetingLinks, Policy, Side
from calbridge.providers.base import Fetched
from calbridge.translate.meetings import DEFAULT_KEYWORDS
from processor.sync.actions import Create, Outcome, Skip
from processor.sync.plan import plan

G, M = Side.GOOGLE, Side.MICROSOFT
SPAN = Timed(datetime(2026, 12, 8, 9, tzinfo=UTC), datetime(2026, 12, 8, 10, tzinfo=UTC), "UTC")
# Google makes Meet and updates silently; Graph makes Teams and would mail an update.
LINKS = MeetingLinks(
    tuple(DEFAULT_KEYWORDS.items()),
    ((G, MeetingProvider.GOOGLE_MEET), (M, MeetingProvider.TEAMS)),
    frozenset({G}),
)
MAKES = Policy("p1", meeting_links=LINKS)


def outlook(location: str | None, **more: object) -> Fetched:
    return Fetched(Event(id="o1", span=SPAN, title="standup", location=location, **more), "v1")  # type: ignore[arg-type]


def test_given_meet_typed_in_outlook_then_the_google_copy_asks_for_a_meet_and_drops_the_keyword() -> None:
    action = plan(MAKES, M, outlook("Room 4 @meet"), None)
    assert isinstance(action, Create) and action.target is G and action.meeting is not None
    assert action.meeting.host is G and action.meeting.origin is M and action.meeting.origin_id == "o1"
    assert action.event.location == "Room 4"
    assert action.event.online_meeting == OnlineMeeting(MeetingProvider.GOOGLE_MEET, "")
    assert action.meeting.event.location == "Room 4"


def test_given_a_pair_without_meeting_links_then_the_keyword_is_carried_as_text() -> None:
    action = plan(Policy("p1"), M, outlook("@meet"), None)
    assert isinstance(action, Create) and action.meeting is None and action.event.location == "@meet"


def test_given_an_outlook_meeting_with_attendees_then_no_meeting_since_the_write_back_would_mail() -> None:
    action = plan(MAKES, M, outlook("@meet", attendees=(Attendee("bob@example.com"),)), None)
    assert isinstance(action, Create) and action.meeting is None


def test_given_an_event_that_has_a_meeting_or_a_busy_pair_then_nothing_is_asked() -> None:
    meeting = OnlineMeeting(MeetingProvider.ZOOM, "https://zoom.us/j/1234567890")
    assert plan(MAKES, M, outlook("@meet", online_meeting=meeting), None).meeting is None  # type: ignore[union-attr]
    busy = Policy("p1", Direction.BOTH, Detail.BUSY, meeting_links=LINKS)
    assert plan(busy, M, outlook("@meet"), None).meeting is None  # type: ignore[union-attr]


def test_given_teams_typed_in_google_then_the_outlook_copy_makes_it() -> None:
    action = plan(MAKES, G, Fetched(Event(id="g1", span=SPAN, location="@teams"), "v1"), None)
    assert isinstance(action, Create) and action.meeting is not None and action.meeting.host is M
    assert action.event.online_meeting == OnlineMeeting(MeetingProvider.TEAMS, "")


def test_given_a_google_birthday_when_planned_then_skipped_with_its_reason() -> None:
    birthday = Event(id="g1", span=SPAN, title="Ann", extra={NOT_MIRRORED: "birthday: skipped"})
    action = plan(MAKES, G, Fetched(birthday, "v1"), None)
    assert action == Skip(Outcome.SKIP_EVENT_TYPE, "birthday: skipped")


def test_given_a_working_location_then_skipped_unless_the_pair_mirrors_them_as_markers() -> None:
    day = AllDay(date(2026, 12, 8), date(2026, 12, 9))
    office = Event(
        id="g2",
        span=day,
        title="Office",
        show_as=ShowAs.WORKING_ELSEWHERE,
        extra={WORKING_LOCATION: "workingLocation: x"},
    )
    skipped = plan(Policy("p1"), G, Fetched(office, "v1"), None)
    assert isinstance(skipped, Skip) and skipped.outcome is Outcome.SKIP_EVENT_TYPE
    marker = plan(Policy("p1", working_locations=True), G, Fetched(office, "v1"), None)
    assert isinstance(marker, Create) and marker.event.show_as is ShowAs.WORKING_ELSEWHERE
    busy = Policy("p1", Direction.BOTH, Detail.BUSY, working_locations=True)
    assert isinstance(plan(busy, G, Fetched(office, "v1"), None), Skip)


def test_given_a_guests_copy_of_someone_elses_meeting_then_no_meeting_is_made() -> None:
    owned = MeetingLinks(
        LINKS.keywords, LINKS.hosts, LINKS.silent, ((G, "ann@example.com"), (M, "ann@example.com"))
    )
    policy = Policy("p1", meeting_links=owned)
    theirs = plan(policy, M, outlook("@meet", organizer=Person("zoe@example.com")), None)
    mine = plan(policy, M, outlook("@meet", organizer=Person("Ann@example.com")), None)
    assert isinstance(theirs, Create) and theirs.meeting is None
    assert isinstance(mine, Create) and mine.meeting is not None
