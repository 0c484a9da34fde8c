"""Pure decisions of the Google emulator: who gets mailed, which list queries are refused."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.google.errors import GoogleApiError
from sandbox.google.event_types import check_type_write
from sandbox.google.invitations import recipients_to_mail
from sandbox.google.state import GoogleUser, GoogleWorld
from sandbox.google.sync import MAX_PAGE, ListQuery

GUESTS = [{"email": "alice@example.com"}, {"email": "bob@example.com"}, {"email": "erin@partner.example"}]


@pytest.mark.parametrize(
    ("send_updates", "mailed"), [("all", 2), ("externalOnly", 1), ("none", 0), (None, 0)]
)
def test_given_send_updates_when_deciding_then_google_mails_guests_but_never_the_organizer(
    send_updates: str | None, mailed: int
) -> None:
    assert recipients_to_mail(GUESTS, "alice@example.com", send_updates, ["example.com"]) == mailed


def test_given_room_resources_when_deciding_then_they_are_not_mailed() -> None:
    room = [{"email": "room-1@resource.example.com", "resource": True}]
    assert recipients_to_mail(room, "alice@example.com", "all", ["example.com"]) == 0


def test_given_paging_parameters_when_parsing_then_page_size_is_capped_and_filters_repeat() -> None:
    query = ListQuery.parse(
        MultiDict(
            [("maxResults", "99999"), ("privateExtendedProperty", "a=1"), ("privateExtendedProperty", "b=2")]
        )
    )
    assert query.max_results == MAX_PAGE
    assert query.private == (("a", "1"), ("b", "2"))


@pytest.mark.parametrize(
    "params",
    [
        [("syncToken", "t"), ("q", "x")],
        [("syncToken", "t"), ("iCalUID", "x")],
        [("orderBy", "startTime")],  # only with singleEvents
        [("timeMin", "2026-12-01T00:00:00")],  # no offset
        [("timeMin", "2026-12-02T00:00:00Z"), ("timeMax", "2026-12-01T00:00:00Z")],
        [("privateExtendedProperty", "novalue")],
        [("maxResults", "0")],
    ],
)
def test_given_a_query_google_refuses_when_parsing_then_400(params: list[tuple[str, str]]) -> None:
    with pytest.raises(GoogleApiError) as caught:
        ListQuery.parse(MultiDict(params))
    assert caught.value.status == 400


DAY = {"start": {"date": "2026-12-08"}, "end": {"date": "2026-12-09"}}
TIMED = {"start": {"dateTime": "2026-12-08T09:00:00Z"}, "end": {"dateTime": "2026-12-08T10:00:00Z"}}


@pytest.mark.parametrize(
    ("body", "primary"),
    [
        ({**TIMED, "eventType": "fromGmail"}, True),  # never created through the API
        ({**TIMED, "eventType": "outOfOffice"}, False),  # primary calendars only
        ({**TIMED, "eventType": "focusTime"}, False),
        ({**DAY, "eventType": "workingLocation"}, True),  # needs workingLocationProperties
        ({**DAY, "eventType": "birthday", "summary": "Ann"}, True),  # not yearly, private, transparent
    ],
)
def test_given_an_insert_a_type_forbids_when_checked_then_400(body: dict[str, object], primary: bool) -> None:
    with pytest.raises(GoogleApiError) as caught:
        check_type_write(body, None, primary=primary, patch=False)
    assert (caught.value.status, caught.value.reason) == (400, "eventTypeRestriction")


def test_given_inserts_a_type_allows_when_checked_then_accepted() -> None:
    birthday = {**DAY, "eventType": "birthday", "recurrence": ["RRULE:FREQ=YEARLY"], "visibility": "private",
                "transparency": "transparent", "summary": "Ann"}  # fmt: skip
    check_type_write(birthday, None, primary=True, patch=False)
    check_type_write({**TIMED, "eventType": "outOfOffice"}, None, primary=True, patch=False)
    check_type_write({**TIMED}, None, primary=False, patch=False)


def test_given_a_gmail_event_when_its_title_is_patched_then_400_but_its_colour_may_change() -> None:
    current = {**TIMED, "eventType": "fromGmail", "summary": "Flight to Oslo"}
    with pytest.raises(GoogleApiError):
        check_type_write({"summary": "Flight"}, current, primary=True, patch=True)
    check_type_write({"colorId": "3", "transparency": "transparent"}, current, primary=True, patch=True)
    with pytest.raises(GoogleApiError):  # nor can its type change
        check_type_write({"eventType": "default"}, current, primary=True, patch=True)


def test_given_meet_creation_pending_when_the_calendar_is_next_called_then_the_meet_is_made_and_pushed() -> (
    None
):
    world = GoogleWorld(Clock(), Counters(), users=[GoogleUser("alice@example.com", "Alice", "UTC")])
    world.meet_pending = True
    changed: list[str] = []
    world.listeners.append(changed.append)
    calendar = world.calendar_for("primary", "alice@example.com", "writer")
    request = {"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    body = {**TIMED, "summary": "sync", "conferenceData": request}
    created = world.insert_event(calendar, body, "alice@example.com", "none", 1)
    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "pending"}
    assert "entryPoints" not in created["conferenceData"] and "hangoutLink" not in created
    before, etag = len(changed), created["etag"]
    again = world.calendar_for("primary", "alice@example.com")  # the next call completes it
    made = world.get_event(again, created["id"])
    assert made["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert made["hangoutLink"].startswith("https://meet.google.com/") and made["etag"] != etag
    assert len(changed) == before + 1
