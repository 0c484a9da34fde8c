"""Mirrors across providers: the same meeting on the other side, never an invitation, busy
blocks that say nothing but the time, and a stamp that round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fixture_corpus import load, names
from provider_echo import google_echo, graph_echo

from calbridge.model import Event, content_hash
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.providers.google.translate import fetched_from_google, google_body
from calbridge.providers.graph.translate import fetched_from_graph, graph_body
from calbridge.translate.stamps import (
    GOOGLE_FACTS_KEY,
    GRAPH_PAIR_PROPERTY_ID,
    GRAPH_PAIRING_PROPERTY_ID,
    GRAPH_PROPERTY_SET,
    GRAPH_SOURCE_PROPERTY_ID,
    google_stamp_filters,
    graph_expand_marks,
    graph_stamp_filter,
    pairing_key,
)

STAMP = MirrorStamp(pair_id="pair-42", source_id="src'id")
GOOGLE_SOURCES = [n for n in names("google") if n != "cancelled_instance"]
GRAPH_SOURCES = [n for n in names("graph") if n != "cancelled_occurrence"]


def google_event(name: str) -> Event:
    return fetched_from_google(load("google", name)).event


def graph_event(name: str) -> Event:
    return fetched_from_graph(load("graph", name)).event


@pytest.mark.parametrize("name", GOOGLE_SOURCES)
@pytest.mark.parametrize("prefer_zone", [None, "Pacific Standard Time"])
def test_given_a_google_event_when_mirrored_to_graph_and_read_back_then_the_same_meeting(
    name: str, prefer_zone: str | None
) -> None:
    source = google_event(name)
    mirror = fetched_from_graph(graph_echo(graph_body(source, STAMP, detail="full"), prefer_zone=prefer_zone))
    assert content_hash(mirror.event) == content_hash(source)
    assert mirror.stamp == STAMP
    assert mirror.event.recurrence == source.recurrence
    assert mirror.event.span.__class__ is source.span.__class__


@pytest.mark.parametrize("name", GRAPH_SOURCES)
def test_given_a_graph_event_when_mirrored_to_google_and_read_back_then_the_same_meeting(name: str) -> None:
    source = graph_event(name)
    mirror = fetched_from_google(google_echo(google_body(source, STAMP, detail="full")))
    assert content_hash(mirror.event) == content_hash(source)
    assert mirror.stamp == STAMP


@pytest.mark.parametrize("name", GOOGLE_SOURCES)
def test_given_a_mirror_stripped_of_its_facts_when_read_then_still_the_same_time_title_and_pattern(
    name: str,
) -> None:
    # What a person or another tool sees: only the visible fields, no calbridge facts.
    source = google_event(name)
    echoed = graph_echo(graph_body(source, STAMP, detail="full"))
    echoed["singleValueExtendedProperties"] = []
    mirror = fetched_from_graph(echoed).event
    assert mirror.title == source.title
    assert mirror.span.start == source.span.start and mirror.span.end == source.span.end
    assert (mirror.recurrence is None) == (source.recurrence is None)
    assert mirror.attendees == ()  # never real attendees on a mirror


def _inviting_fields(body: dict[str, Any]) -> list[str]:
    found = [
        k for k in ("attendees", "conferenceData", "onlineMeeting", "onlineMeetingProvider") if body.get(k)
    ]
    if body.get("isOnlineMeeting"):
        found.append("isOnlineMeeting")
    return found


ALL_SOURCES = [("google", n) for n in GOOGLE_SOURCES] + [("graph", n) for n in GRAPH_SOURCES]


@pytest.mark.parametrize(("provider", "name"), ALL_SOURCES)
def test_given_any_event_when_mirrored_then_no_body_holds_attendees_or_a_conference(
    provider: str, name: str
) -> None:
    event = google_event(name) if provider == "google" else graph_event(name)
    for detail in ("full", "busy"):
        assert _inviting_fields(graph_body(event, STAMP, detail=detail)) == []
        assert _inviting_fields(google_body(event, STAMP, detail=detail)) == []


def test_given_a_meeting_with_attendees_when_mirrored_to_graph_then_they_are_only_readable_text() -> None:
    source = google_event("recurring_weekly")
    body = graph_body(source, STAMP, detail="full")
    assert "attendees" not in body
    assert "carol@partner.example" in body["body"]["content"]
    assert "Bob Stone <bob@example.com>" in body["body"]["content"]


GOOGLE_BUSY_KEYS = {"start", "end", "recurrence", "transparency", "summary", "visibility", "reminders"}
GRAPH_BUSY_KEYS = {
    "start",
    "end",
    "isAllDay",
    "recurrence",
    "showAs",
    "subject",
    "sensitivity",
    "isReminderOn",
}
EMPTY_CLEARERS = {"body": {"contentType": "text", "content": ""}, "location": {"displayName": ""}}


@pytest.mark.parametrize(
    "name", ["meet_with_attendees", "recurring_weekly", "timed_after_dst", "private_free"]
)
def test_given_a_busy_only_pair_when_mirrored_then_nothing_but_span_and_status(name: str) -> None:
    source = google_event(name)
    google = google_body(source, STAMP, detail="busy")
    graph = graph_body(source, STAMP, detail="busy")
    private = google.pop("extendedProperties")["private"]
    assert set(private) == {"calbridgePair", "calbridgeSource"}  # the stamp, no facts
    assert set(google) <= GOOGLE_BUSY_KEYS
    assert (google["summary"], google["visibility"]) == ("Busy", "private")
    graph_marks = graph.pop("singleValueExtendedProperties")
    assert {p["id"] for p in graph_marks} == {GRAPH_PAIR_PROPERTY_ID, GRAPH_SOURCE_PROPERTY_ID}
    clearers = {k: graph.pop(k) for k in list(graph) if k in EMPTY_CLEARERS}
    assert clearers == EMPTY_CLEARERS  # present but empty: a PATCH wipes what a full mirror held
    assert set(graph) <= GRAPH_BUSY_KEYS
    assert (graph["subject"], graph["sensitivity"], graph["isReminderOn"]) == ("Busy", "private", False)
    text = json.dumps([google, graph])
    for secret in [source.title, source.location, *(a.address for a in source.attendees)]:
        if secret:
            assert secret not in text
    if source.description:
        assert source.description.content not in text
    if source.online_meeting:
        assert source.online_meeting.join_url not in text


def test_given_a_busy_mirror_when_read_back_then_same_time_and_show_as() -> None:
    source = graph_event("timed_utc_pacific")
    mirror = fetched_from_google(google_echo(google_body(source, STAMP, detail="busy")))
    assert mirror.event.span.start == source.span.start and mirror.event.span.end == source.span.end
    assert mirror.event.title == "Busy"
    assert mirror.stamp == STAMP


def test_given_a_long_attendee_list_when_mirrored_to_google_then_facts_are_chunked_and_read_back() -> None:
    from dataclasses import replace

    from calbridge.model import Attendee

    many = tuple(Attendee(f"person{i:03d}@example.com", f"Person {i}") for i in range(60))
    source = replace(google_event("meet_with_attendees"), attendees=many)
    body = google_body(source, STAMP, detail="full")
    chunks = [k for k in body["extendedProperties"]["private"] if k.startswith(GOOGLE_FACTS_KEY)]
    assert len(chunks) > 1
    assert all(len(v) <= 1024 for v in body["extendedProperties"]["private"].values())
    assert fetched_from_google(google_echo(body)).event.attendees == many


def test_given_a_stamp_when_searched_then_filters_name_the_fixed_properties_and_escape_quotes() -> None:
    # Google lists every mirror of the source: pair and pairing are compared on what comes back
    assert google_stamp_filters(STAMP) == ["calbridgeSource=src'id"]
    expression = graph_stamp_filter(STAMP)
    assert (
        f"ep/id eq 'String {{{GRAPH_PROPERTY_SET}}} Name calbridgeSource' and ep/value eq 'src''id'"
        in expression
    )
    marks = graph_expand_marks()
    assert all(name in marks for name in ("calbridgePair", "calbridgePairing", "calbridgeFacts"))


PAIRED = MirrorStamp(pair_id="pair-42", source_id="src-1", pairing="k" * 32)


@pytest.mark.parametrize("detail", ["full", "busy"])
def test_given_a_stamp_with_its_pairing_when_written_and_read_back_then_all_three_marks_return(
    detail: str,
) -> None:
    source = google_event("meet_with_attendees")
    via_graph = fetched_from_graph(graph_echo(graph_body(source, PAIRED, detail=detail)))
    via_google = fetched_from_google(google_echo(google_body(source, PAIRED, detail=detail)))
    assert via_graph.stamp == via_google.stamp == PAIRED
    graph_ids = {p["id"] for p in graph_body(source, PAIRED, detail=detail)["singleValueExtendedProperties"]}
    assert GRAPH_PAIRING_PROPERTY_ID in graph_ids


def test_given_stamps_when_matched_then_the_same_source_of_this_pair_or_of_the_same_calendars() -> None:
    wanted = MirrorStamp("new-pair", "src-1", "pairing-a")
    # an earlier pair of the same two calendars made it: the same mirror
    assert wanted.matches(MirrorStamp("old-pair", "src-1", "pairing-a"))
    # this pair made it before the pairing was stamped
    assert wanted.matches(MirrorStamp("new-pair", "src-1"))
    # another source, another pairing, or an older pair's mirror without a pairing: not ours
    assert not wanted.matches(MirrorStamp("new-pair", "src-2", "pairing-a"))
    assert not wanted.matches(MirrorStamp("other-pair", "src-1", "pairing-b"))
    assert not wanted.matches(MirrorStamp("old-pair", "src-1"))
    assert not wanted.matches(None)


def test_given_two_calendars_when_keyed_then_the_key_names_the_calendars_not_their_spelling() -> None:
    google, outlook = CalendarAddress("Ann@Example.com"), CalendarAddress("ann@example.org")
    key = pairing_key(google, outlook)
    assert len(key) == 32 and "example" not in key  # no address on a mirror
    # Google's primary calendar is its owner's address; addresses carry no case
    assert pairing_key(CalendarAddress("ann@example.com", "ann@example.com"), outlook) == key
    assert pairing_key(google, CalendarAddress("ANN@example.org", "primary")) == key
    # another calendar on either side is another pairing
    assert pairing_key(CalendarAddress("ann@example.com", "team@group.calendar.google.com"), outlook) != key
    assert pairing_key(google, CalendarAddress("ann@example.org", "AAMkAGI2")) != key
    assert pairing_key(google, CalendarAddress("bob@example.org")) != key


def test_given_damaged_facts_when_read_then_the_visible_fields_stand() -> None:
    source = google_event("meet_with_attendees")
    echoed = google_echo(google_body(source, STAMP, detail="full"))
    echoed["extendedProperties"]["private"][f"{GOOGLE_FACTS_KEY}0"] = "{not json"
    mirror = fetched_from_google(echoed)
    assert mirror.stamp == STAMP
    assert mirror.event.attendees == ()
    assert mirror.event.title == source.title
