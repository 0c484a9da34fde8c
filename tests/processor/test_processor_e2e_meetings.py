"""End to end on the sandbox with real RabbitMQ: meeting links and Google's special event types.

One calendar pair (Alice's Google and Outlook calendars, two-way), several events at once:

- a Teams, a Meet, a Zoom and a Webex link each reach the other side in its native place (the
  location, or the conference itself), survive an edit of the title on either side and the
  round trip back, and are never shown twice (the Teams join block is not copied as text);
- `@meet` typed in an Outlook location gives the Outlook event a Meet link in one pass, mails
  nobody, and writes each side once;
- a busy mirror carries no link;
- each of Google's special event types meets its declared fate (docs/hybrid.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from processor_e2e import PAIR, Stack, eventually, open_stack, titled

from calbridge.store.tables import pairs
from processor.metrics import NOT_MIRRORED

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(120)]

TEAMS_HOST = "https://teams.microsoft.com/l/meetup-join/"
ZOOM = "https://us02web.zoom.us/j/85012345678?pwd=Qm9vawxx"
WEBEX = "https://acme.webex.com/meet/alice"
MARKER = "-- calbridge mirror --"
MAKE_MEET = {"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        async with opened.engine.begin() as conn:
            await conn.execute(sa.update(pairs).where(pairs.c.id == PAIR).values(meeting_links=True))
        opened.processor.consumer._directory.forget()  # the pair row was changed under it
        yield opened


def at(hour: int, day: int = 14) -> dict[str, dict[str, str]]:
    return {
        "start": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:30:00Z"},
    }


def outlook_at(hour: int, day: int = 14) -> dict[str, dict[str, str]]:
    return {
        "start": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:30:00", "timeZone": "UTC"},
    }


def text_of(event: dict[str, Any]) -> str:
    """What a person sees of an event: its location and description, on either provider."""
    location = event.get("location")
    if isinstance(location, dict):
        location = location.get("displayName")
    body = event.get("body") or {}
    description = event.get("description") or body.get("content") or ""
    return f"{location or ''}\n{description}".replace("&amp;", "&")


def one(events: list[dict[str, Any]], title: str) -> dict[str, Any] | None:
    found = titled(events, title)
    return found[0] if len(found) == 1 else None


async def shows_link(stack: Stack, title: str, url_part: str) -> bool:
    """Both copies of `title` exist once each and both show the link; no copy shows it twice."""
    google = one(await stack.google_events(), title)
    outlook = one(await stack.outlook_events(), title)
    if google is None or outlook is None:
        return False
    for event in (google, outlook):
        native = (event.get("conferenceData") or {}).get("entryPoints"), event.get("onlineMeeting")
        seen = text_of(event) + str(native)
        if url_part not in seen:
            return False
    return True


def link_of(event: dict[str, Any], url_part: str) -> str:
    for word in text_of(event).replace('"', " ").split():
        if url_part in word:
            return word
    uri = next(p["uri"] for p in event["conferenceData"]["entryPoints"] if p["entryPointType"] == "video")
    return str(uri)


async def test_given_links_of_four_providers_when_synced_edited_and_synced_back_then_each_shows_once(
    stack: Stack,
) -> None:
    # Given: a Teams meeting made in Outlook, a Meet made in Google, a Zoom link typed in an
    # Outlook location and a Webex link pasted in a Google description
    teams_id = await stack.outlook_create(
        {
            "subject": "teams sync",
            **outlook_at(9),
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
        }
    )
    meet_id = await stack.google_create({"summary": "meet sync", **at(10), "conferenceData": MAKE_MEET})
    zoom_id = await stack.outlook_create(
        {"subject": "zoom sync", **outlook_at(11), "location": {"displayName": ZOOM}}
    )
    webex_id = await stack.google_create(
        {"summary": "webex sync", **at(12), "description": f"Agenda\nJoin {WEBEX}"}
    )

    # When: each is mirrored
    for title, part in (("teams sync", TEAMS_HOST), ("meet sync", "https://meet.google.com/"),
                        ("zoom sync", ZOOM), ("webex sync", WEBEX)):  # fmt: skip
        await eventually(
            lambda t=title, p=part: shows_link(stack, t, p), what=f"{title} mirrored with its link"
        )

    # Then: in its native place on the other side, and the Teams block is not copied as text
    google = {e["summary"]: e for e in await stack.google_events()}
    outlook = {e["subject"]: e for e in await stack.outlook_events()}
    teams_url = outlook["teams sync"]["onlineMeeting"]["joinUrl"]
    assert google["teams sync"]["location"] == teams_url
    assert "Microsoft Teams meeting" not in google["teams sync"].get("description", "")
    meet_url = google["meet sync"]["hangoutLink"]
    assert outlook["meet sync"]["location"]["displayName"] == meet_url
    assert google["zoom sync"]["location"] == ZOOM
    assert outlook["webex sync"]["location"]["displayName"] == WEBEX

    # When: the title is edited on the mirror side of two and the origin side of the other two
    await stack.google_edit(google["teams sync"]["id"], {"summary": "teams sync 2"})
    await stack.outlook_edit(outlook["meet sync"]["id"], {"subject": "meet sync 2"})
    await stack.outlook_edit(zoom_id, {"subject": "zoom sync 2"})
    await stack.google_edit(webex_id, {"summary": "webex sync 2"})
    links = {"teams sync 2": teams_url, "meet sync 2": meet_url, "zoom sync 2": ZOOM, "webex sync 2": WEBEX}
    for title, url in links.items():
        await eventually(lambda t=title, u=url: shows_link(stack, t, u), what=f"{title} on both sides")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")

    # Then: every copy still shows its link exactly once, with at most one mirror note
    for title, url in links.items():
        for event in (one(await stack.google_events(), title), one(await stack.outlook_events(), title)):
            assert event is not None
            shown = text_of(event)
            place = (event.get("location") or {}) if "subject" in event else {}
            assert shown.count(url) <= 2, (title, shown)  # the location and, at most, one note line
            assert shown.count(MARKER) <= 1 and shown.count("Microsoft Teams meeting") <= 1, (title, shown)
            assert url in shown or event.get("hangoutLink") == url or place
    # The Teams meeting, the Meet and the origins kept their own conference
    outlook = {e["subject"]: e for e in await stack.outlook_events()}
    assert outlook["teams sync 2"]["onlineMeeting"]["joinUrl"] == teams_url
    assert one(await stack.google_events(), "meet sync 2")["hangoutLink"] == meet_url  # type: ignore[index]
    assert teams_id and meet_id
    counters = await stack.counters()
    assert counters["invitations"] == []


async def test_given_meet_typed_in_an_outlook_location_when_synced_then_the_outlook_event_gets_the_link(
    stack: Stack,
) -> None:
    await stack.control.google.set_meet_pending(True)  # Google answers `pending`, completes later
    before = await stack.counters()
    # Given/When: Alice types @meet as the location of a new Outlook appointment
    origin = await stack.outlook_create(
        {"subject": "standup", **outlook_at(8, 15), "location": {"displayName": "@meet"}}
    )

    async def has_link() -> bool:
        found = one(await stack.outlook_events(), "standup")
        return found is not None and "https://meet.google.com/" in text_of(found)

    await eventually(has_link, what="the Meet link on the Outlook event")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")

    # Then: the Google copy holds the Meet itself and the Outlook event its link, keyword gone
    google = one(await stack.google_events(), "standup")
    outlook = one(await stack.outlook_events(), "standup")
    assert google is not None and outlook is not None and outlook["id"] == origin
    meet_url = google["hangoutLink"]
    assert google["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    assert outlook["location"]["displayName"] == meet_url and "@meet" not in text_of(outlook)
    assert "@meet" not in text_of(google)
    # nobody mailed; one Meet made; the Google copy written once, the Outlook event once (no echo loop)
    after = await stack.counters()
    assert after["invitations"] == []

    def calls(counters: dict[str, Any], operation: str) -> int:
        return sum(c["count"] for c in counters["calls"] if c["operation"] == operation)

    assert calls(after, "google.events.insert") - calls(before, "google.events.insert") == 1
    assert calls(after, "google.events.update") == calls(before, "google.events.update")
    assert calls(after, "graph.events.update") - calls(before, "graph.events.update") == 1
    assert len([e for e in await stack.google_events() if e.get("hangoutLink") == meet_url]) == 1

    # When: Alice types @teams, and @meet, as the locations of two new Google events
    await stack.google_create({"summary": "review", **at(9, 15), "location": "Room 4 @teams"})
    await stack.google_create({"summary": "pairing", **at(10, 15), "location": "@meet"})

    async def both_made() -> bool:
        google = await stack.google_events()
        review, pairing = one(google, "review"), one(google, "pairing")
        return bool(
            review and TEAMS_HOST in text_of(review) and pairing and pairing.get("hangoutLink")
            and await shows_link(stack, "pairing", pairing["hangoutLink"])
        )  # fmt: skip

    await eventually(both_made, what="a Teams meeting and a Meet made from Google keywords")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")
    # Then: Outlook holds the Teams meeting (Google its link, its own location kept); Google holds
    # the Meet; no keyword is left anywhere and nobody was mailed
    review = one(await stack.outlook_events(), "review")
    assert (
        review is not None and review["isOnlineMeeting"] and TEAMS_HOST in review["onlineMeeting"]["joinUrl"]
    )
    google_review = one(await stack.google_events(), "review")
    assert google_review is not None and google_review["location"] == "Room 4"
    for event in [*await stack.google_events(), *await stack.outlook_events()]:
        assert "@teams" not in text_of(event) and "@meet" not in text_of(event)
    assert (await stack.counters())["invitations"] == []


async def test_given_googles_special_event_types_when_synced_then_each_meets_its_declared_fate(
    stack: Stack,
) -> None:
    skipped_before = {
        kind: NOT_MIRRORED.labels(kind)._value.get() for kind in ("birthday", "fromGmail", "workingLocation")
    }
    # Given: one event of each special type in Google, and an out-of-office event in Outlook
    day = {"start": {"date": "2026-12-16"}, "end": {"date": "2026-12-17"}}
    await stack.google_create({"summary": "away", **at(9, 16), "eventType": "outOfOffice",
                               "outOfOfficeProperties": {"autoDeclineMode": "declineNone"}})  # fmt: skip
    await stack.google_create({"summary": "deep work", **at(11, 16), "eventType": "focusTime",
                               "focusTimeProperties": {"chatStatus": "doNotDisturb"}})  # fmt: skip
    await stack.google_create({"summary": "office", **day, "eventType": "workingLocation",
                               "transparency": "transparent",
                               "workingLocationProperties": {"type": "officeLocation"}})  # fmt: skip
    await stack.google_create({"summary": "Ann's birthday", **day, "eventType": "birthday",
                               "recurrence": ["RRULE:FREQ=YEARLY"], "visibility": "private",
                               "transparency": "transparent"})  # fmt: skip
    await stack.google_create({"summary": "Flight to Oslo", **at(14, 16), "eventType": "fromGmail"})
    await stack.outlook_create({"subject": "vacation", **outlook_at(15, 16), "showAs": "oof"})

    async def done() -> bool:
        outlook = await stack.outlook_events()
        return bool(
            one(outlook, "away")
            and one(outlook, "deep work")
            and one(await stack.google_events(), "vacation")
        )

    await eventually(done, what="the mapped types mirrored")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")

    # Then: out of office -> showAs oof; focus time -> busy with its title; Outlook's oof -> a
    # busy default event in Google; the others not mirrored, each counted, and no refused write
    outlook = await stack.outlook_events()
    assert one(outlook, "away")["showAs"] == "oof"  # type: ignore[index]
    assert one(outlook, "deep work")["showAs"] == "busy"  # type: ignore[index]
    vacation = one(await stack.google_events(), "vacation")
    assert vacation is not None and vacation["eventType"] == "default"
    assert vacation.get("transparency", "opaque") == "opaque"
    for title in ("office", "Ann's birthday", "Flight to Oslo"):
        assert not titled(outlook, title), title
    for kind, before in skipped_before.items():
        assert NOT_MIRRORED.labels(kind)._value.get() >= before + 1, kind
    counters = await stack.counters()
    google_writes = ("google.events.insert", "google.events.update", "google.events.patch")
    refused = [c for c in counters["calls"] if c["operation"] in google_writes and c["status"] >= 400]
    assert refused == [] and counters["invitations"] == []


async def test_given_a_busy_pair_when_a_teams_meeting_is_mirrored_then_the_block_carries_no_link(
    stack: Stack,
) -> None:
    async with stack.engine.begin() as conn:
        await conn.execute(sa.update(pairs).where(pairs.c.id == PAIR).values(detail="busy"))
    stack.processor.consumer._directory.forget()
    # Given: a Teams meeting in Outlook and a Meet in Google
    await stack.outlook_create(
        {
            "subject": "board",
            **outlook_at(9, 17),
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
        }
    )
    await stack.google_create({"summary": "1:1", **at(10, 17), "conferenceData": MAKE_MEET})

    async def blocks() -> bool:
        google = [e for e in await stack.google_events() if e.get("summary") == "Busy"]
        outlook = [e for e in await stack.outlook_events() if e.get("subject") == "Busy"]
        return len(google) == 1 and len(outlook) == 1

    # When: both are mirrored as busy blocks
    await eventually(blocks, what="busy blocks both ways")
    # Then: neither block shows a link, in any field
    for event in [*await stack.google_events(), *await stack.outlook_events()]:
        if event.get("summary", event.get("subject")) == "Busy":
            shown = (
                text_of(event)
                + str(event.get("conferenceData") or "")
                + str(event.get("onlineMeeting") or "")
            )
            assert "teams.microsoft.com" not in shown and "meet.google.com" not in shown, shown
