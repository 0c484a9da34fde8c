"""Join links: found in text, the Teams join block cut out, carried through a mirror and back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from calbridge.model import Body, Event, MeetingProvider, OnlineMeeting, Timed
from calbridge.providers.base import MirrorStamp
from calbridge.providers.google.translate import fetched_from_google, google_body
from calbridge.providers.graph.translate import fetched_from_graph, graph_body
from calbridge.translate.meetings import (
    detect_link,
    location_in,
    read_meeting,
    requested_provider,
    without_keyword,
    without_teams_block,
)
from tests.translate.provider_echo import google_echo, graph_echo

TEAMS_URL = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjY3ZDk4MGUtYjQ4Ny00ZTVkLWI3YzAtZmE1ZjA1NGQ0"
    "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a"
    "%22a1b2c3d4-0000-4000-8000-123456789abc%22%7d"
)
# The shape Exchange Online appends to the body of a Teams meeting (2024), about 2 kB.
FIXTURES = Path(__file__).parent / "fixtures"
TEAMS_BLOCK = (FIXTURES / "teams_block.html").read_text().replace("{join_url}", TEAMS_URL)
STAMP = MirrorStamp("pair-1", "src-1", "pairing-1")
SPAN = Timed(datetime(2026, 12, 8, 9, tzinfo=UTC), datetime(2026, 12, 8, 10, tzinfo=UTC), "Europe/Paris")


@pytest.mark.parametrize(
    ("text", "provider", "url"),
    [
        ("Join https://meet.google.com/abc-defg-hij now", MeetingProvider.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij"),
        (f"<a href=\"{TEAMS_URL}\">Join</a>", MeetingProvider.TEAMS, TEAMS_URL),
        ("Zoom: https://us02web.zoom.us/j/85012345678?pwd=QWERTY.1", MeetingProvider.ZOOM,
         "https://us02web.zoom.us/j/85012345678?pwd=QWERTY.1"),
        ("https://acme.webex.com/meet/jane.doe", MeetingProvider.WEBEX, "https://acme.webex.com/meet/jane.doe"),
        ("https://acme.webex.com/acme/j.php?MTID=m0123456789abcdef", MeetingProvider.WEBEX,
         "https://acme.webex.com/acme/j.php?MTID=m0123456789abcdef"),
        ("Dial sip:2650123456@acme.webex.com", MeetingProvider.SIP, "sip:2650123456@acme.webex.com"),
    ],
)  # fmt: skip
def test_given_a_join_link_in_text_when_detected_then_its_provider_and_url(
    text: str, provider: MeetingProvider, url: str
) -> None:
    found = detect_link(text)
    assert found is not None and found.provider is provider and found.join_url == url


def test_given_text_naming_a_provider_without_a_join_link_then_nothing_is_detected() -> None:
    assert detect_link("See https://zoom.us/pricing and https://aka.ms/JoinTeamsMeeting") is None
    assert detect_link(None) is None


def test_given_a_webex_link_and_its_sip_address_then_both_are_kept() -> None:
    found = detect_link("https://acme.webex.com/meet/jane.doe or video sip:jane.doe@acme.webex.com")
    assert found == OnlineMeeting(
        MeetingProvider.WEBEX, "https://acme.webex.com/meet/jane.doe", "sip:jane.doe@acme.webex.com"
    )


def test_given_exchanges_teams_block_when_read_then_it_is_cut_and_its_link_kept() -> None:
    body = Body(f"<p>Agenda: budget</p><br>\r\n{TEAMS_BLOCK}\r\n", html=True)
    assert len(TEAMS_BLOCK) > 2000
    kept, meeting = without_teams_block(body)
    assert meeting == OnlineMeeting(MeetingProvider.TEAMS, TEAMS_URL)
    assert kept == Body("<p>Agenda: budget</p>", html=True)


def test_given_a_body_that_is_only_the_teams_block_then_nothing_is_left() -> None:
    assert without_teams_block(Body(TEAMS_BLOCK, html=True)) == (
        None,
        OnlineMeeting(MeetingProvider.TEAMS, TEAMS_URL),
    )


def test_given_a_plain_text_teams_block_then_it_is_cut_too() -> None:
    text = (
        "Notes\n\n"
        + "_" * 60
        + "\nMicrosoft Teams meeting\nJoin: "
        + TEAMS_URL
        + "\nMeeting ID: 1\n"
        + "_" * 60
    )
    kept, meeting = without_teams_block(Body(text))
    assert kept == Body("Notes") and meeting is not None and meeting.join_url == TEAMS_URL


def test_given_underscores_without_a_teams_block_then_the_body_is_untouched() -> None:
    body = Body("Sign here: " + "_" * 40)
    assert without_teams_block(body) == (body, None)


def test_given_a_location_holding_only_the_link_then_it_is_no_location() -> None:
    zoom = OnlineMeeting(MeetingProvider.ZOOM, "https://zoom.us/j/1234567890")
    teams = OnlineMeeting(MeetingProvider.TEAMS, TEAMS_URL)
    assert location_in("https://zoom.us/j/1234567890", zoom) is None
    assert location_in("Microsoft Teams Meeting", teams) is None
    assert location_in("Room 4", zoom) == "Room 4"


def test_given_keywords_in_a_location_then_the_request_and_the_rest() -> None:
    assert requested_provider("Room 4 @meet") is MeetingProvider.GOOGLE_MEET
    assert requested_provider("@Teams") is MeetingProvider.TEAMS
    assert requested_provider("meet@office") is None
    assert without_keyword("Room 4 @meet") == "Room 4"
    assert without_keyword("@teams") is None
    assert requested_provider("#video", {"#video": MeetingProvider.TEAMS}) is MeetingProvider.TEAMS


def test_given_a_teams_block_and_no_native_meeting_then_read_meeting_uses_the_block() -> None:
    body, location, meeting = read_meeting(None, Body(TEAMS_BLOCK, html=True), "Microsoft Teams Meeting")
    assert (
        (body, location) == (None, None) and meeting is not None and meeting.provider is MeetingProvider.TEAMS
    )


def _teams_item() -> dict[str, object]:
    return {
        "id": "AAMk-teams",
        "subject": "Budget",
        "body": {
            "contentType": "html",
            "content": f"<html><body><p>Agenda</p><br>{TEAMS_BLOCK}</body></html>",
        },
        "start": {"dateTime": "2026-12-08T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-08T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Romance Standard Time",
        "location": {"displayName": "Microsoft Teams Meeting"},
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "onlineMeeting": {"joinUrl": TEAMS_URL},
        "showAs": "busy",
        "changeKey": "ck1",
    }


def test_given_a_teams_meeting_when_mirrored_to_google_then_the_link_is_in_its_place_and_not_the_block() -> (
    None
):
    source = fetched_from_graph(_teams_item()).event
    body = google_body(source, STAMP, detail="full")
    assert body["location"] == TEAMS_URL
    assert "Microsoft Teams meeting" not in body["description"] and "Meeting ID" not in body["description"]
    assert body["description"].count(TEAMS_URL) == 1
    back = fetched_from_google(google_echo(body)).event
    assert back.online_meeting == source.online_meeting and back.location is None
    assert back.description == source.description


@pytest.mark.parametrize(
    "url",
    [
        "https://meet.google.com/abc-defg-hij",
        "https://us02web.zoom.us/j/85012345678?pwd=QWERTY",
        "https://acme.webex.com/meet/jane.doe",
        TEAMS_URL,
    ],
)
def test_given_a_pasted_link_when_mirrored_both_ways_twice_then_it_is_shown_once(url: str) -> None:
    """Google -> Graph -> Google -> Graph: the link is never repeated and the event reads the same."""
    origin = Event(id="g1", span=SPAN, title="Sync", description=Body(f"Agenda\nJoin at {url}"))
    start = fetched_from_google(google_echo(google_body(origin, STAMP, detail="full"))).event
    assert start.online_meeting is not None and start.online_meeting.join_url == url
    event = start
    for _ in range(2):
        on_graph = graph_body(event, STAMP, detail="full")
        assert on_graph["body"]["content"].replace("&amp;", "&").count(url) == 1
        event = fetched_from_graph(graph_echo(on_graph)).event
        on_google = google_body(event, STAMP, detail="full")
        assert on_google["description"].count(url) == 1
        event = fetched_from_google(google_echo(on_google)).event
    assert event.description == start.description and event.online_meeting == start.online_meeting
    assert event.location == start.location


def test_given_a_meet_asked_for_when_written_to_google_then_a_create_request_and_no_join_line() -> None:
    event = Event(
        id="m1", span=SPAN, title="Sync", online_meeting=OnlineMeeting(MeetingProvider.GOOGLE_MEET, "")
    )
    body = google_body(event, STAMP, detail="full")
    request = body["conferenceData"]["createRequest"]
    assert request["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert (
        request["requestId"]
        == google_body(event, STAMP, detail="full")["conferenceData"]["createRequest"]["requestId"]
    )
    assert "description" not in body and "location" not in body


def test_given_a_teams_meeting_asked_for_when_written_to_graph_then_is_online_meeting() -> None:
    event = Event(id="m1", span=SPAN, title="Sync", online_meeting=OnlineMeeting(MeetingProvider.TEAMS, ""))
    body = graph_body(event, STAMP, detail="full")
    assert body["isOnlineMeeting"] is True and body["onlineMeetingProvider"] == "teamsForBusiness"


def test_given_a_busy_mirror_then_no_link_anywhere() -> None:
    source = fetched_from_graph(_teams_item()).event
    body = google_body(source, STAMP, detail="busy")
    assert TEAMS_URL not in str(body) and "location" not in body and "conferenceData" not in body
