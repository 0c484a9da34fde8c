"""End to end (sandbox -> receiver -> RabbitMQ -> processor -> other side): exact instants on a
fall-back night, Outlook's one reminder, and meetings with attendees that arrive without mailing
anyone.

Given Alice's Google and Outlook calendars paired two ways (full detail), when she makes events
on either side, then the other side holds the same instants (the second 01:30 of New York's
fall-back night included), the pop-up reminder's minutes, and the attendee list in the
mirror's text, while the sandboxes count no invitation and a resync writes nothing. A copy of
an Outlook meeting edited in Google is restored rather than carried back: Graph mails a
meeting's attendees on every write and cannot be told not to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from processor_e2e import (
    NIGHT_SHIFT,
    Stack,
    eventually,
    google_start,
    open_stack,
    outlook_start,
    titled,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]

SECOND_0130 = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 EST in New York, after the fall back


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        yield opened


async def one(stack: Stack, side: str, title: str) -> dict[str, Any] | None:
    events = await (stack.outlook_events() if side == "outlook" else stack.google_events())
    found = titled(events, title)
    return found[0] if len(found) == 1 else None


async def arrived(stack: Stack, side: str, title: str, check: Any = None) -> bool:
    found = await one(stack, side, title)
    return found is not None and (check is None or bool(check(found)))


def outlook_end(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["end"]["dateTime"][:19]).replace(tzinfo=UTC)


def text_of(event: dict[str, Any]) -> str:
    body = event.get("body")
    return str(body.get("content") or "") if isinstance(body, dict) else str(event.get("description") or "")


async def settles_without_writes(stack: Stack) -> None:
    counters = await stack.counters()
    before, handled = writes(counters), stack.processor.consumer.handled
    await stack.resync()
    await eventually(lambda: stack.settled(handled + 2), what="the resync passes")
    assert writes(await stack.counters()) == before, "a resync after everything settled wrote something"


async def test_given_the_second_0130_and_a_popup_with_an_email_reminder_then_exact_instants_and_the_popup(
    stack: Stack,
) -> None:
    # Given: Google, the second 01:30 in New York, a 10-minute pop-up and a 60-minute e-mail
    await stack.google_create(NIGHT_SHIFT)
    # and Outlook, the same instant written in UTC, with its one reminder at 25 minutes
    await stack.outlook_create(
        {
            "subject": "night call",
            "start": {"dateTime": "2027-11-07T06:30:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-11-07T07:00:00", "timeZone": "UTC"},
            "isReminderOn": True,
            "reminderMinutesBeforeStart": 25,
        }
    )

    # Then: Outlook starts at the second 01:30 and lasts one hour, with the pop-up's 10 minutes
    def outlook_ok(e: dict[str, Any]) -> bool:
        return outlook_start(e) == SECOND_0130 and outlook_end(e) == datetime(2027, 11, 7, 7, 30, tzinfo=UTC)

    await eventually(lambda: arrived(stack, "outlook", "night shift"), what="G->M create")
    mirror = await one(stack, "outlook", "night shift")
    assert mirror is not None and outlook_ok(mirror), (mirror["start"], mirror["end"])
    assert mirror["isReminderOn"] is True and mirror["reminderMinutesBeforeStart"] == 10

    # and Google holds the Outlook event's instant, its reminder a 25-minute pop-up
    await eventually(lambda: arrived(stack, "google", "night call"), what="M->G create")
    copy = await one(stack, "google", "night call")
    assert copy is not None and google_start(copy) == SECOND_0130
    assert copy["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 25}]}

    # and nothing is rewritten on a resync (the pinned instant reads back as the same meeting)
    await settles_without_writes(stack)
    origin = await one(stack, "google", "night shift")
    assert origin is not None and {"method": "email", "minutes": 60} in origin["reminders"]["overrides"]


INTERNAL, EXTERNAL, ROOM = "bob@example.com", "carol@partner.test", "room-4@example.com"


async def test_given_meetings_with_attendees_on_both_sides_when_made_and_edited_then_listed_and_nobody_mailed(
    stack: Stack,
) -> None:
    # Given: a Google meeting with an internal, an optional external guest and a room
    google_id = await stack.google_create(
        {
            "summary": "planning",
            "start": {"dateTime": "2027-01-12T15:00:00Z"},
            "end": {"dateTime": "2027-01-12T16:00:00Z"},
            "attendees": [
                {"email": INTERNAL, "displayName": "Bob"},
                {"email": EXTERNAL, "optional": True},
                {"email": ROOM, "resource": True},
            ],
        }
    )
    # and an Outlook meeting with the same kinds of attendees
    outlook_id = await stack.outlook_create(
        {
            "subject": "retro",
            "start": {"dateTime": "2027-01-13T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-01-13T16:00:00", "timeZone": "UTC"},
            "attendees": [
                {"emailAddress": {"address": INTERNAL, "name": "Bob"}, "type": "required"},
                {"emailAddress": {"address": EXTERNAL}, "type": "optional"},
                {"emailAddress": {"address": ROOM}, "type": "resource"},
            ],
        }
    )

    # Then: each mirror lists the attendees in its text and invites nobody
    def lists(*who: str) -> Any:
        return lambda e: all(w in text_of(e) for w in who)

    everyone = lists(INTERNAL, EXTERNAL, ROOM)
    await eventually(lambda: arrived(stack, "outlook", "planning", everyone), what="G->M")
    await eventually(lambda: arrived(stack, "google", "retro", everyone), what="M->G")
    mirror = await one(stack, "outlook", "planning")
    copy = await one(stack, "google", "retro")
    assert mirror is not None and not mirror.get("attendees")  # a Graph event with attendees mails them
    assert copy is not None and not copy.get("attendees")

    # When: the attendees change on each side, and Alice renames the Outlook copy of the Google
    # meeting (carried back with sendUpdates=none, the guests kept)
    dave = "dave@partner.test"
    await stack.google_edit(
        google_id,
        {
            "attendees": [
                {"email": INTERNAL, "displayName": "Bob"},
                {"email": EXTERNAL, "optional": True},
                {"email": ROOM, "resource": True},
                {"email": dave},
            ]
        },
    )
    await stack.outlook_edit(
        outlook_id, {"attendees": [{"emailAddress": {"address": dave}, "type": "required"}]}
    )
    await eventually(lambda: arrived(stack, "outlook", "planning", lists(dave, INTERNAL)), what="G->M edit")
    await eventually(lambda: arrived(stack, "google", "retro", lists(dave)), what="M->G edit")
    copy = await one(stack, "google", "retro")
    assert copy is not None and INTERNAL not in text_of(copy)
    mirror = await one(stack, "outlook", "planning")
    assert mirror is not None
    await stack.outlook_edit(mirror["id"], {"subject": "planning (room 4)"})
    await eventually(lambda: arrived(stack, "google", "planning (room 4)"), what="rename carried back")
    # and renames the Google copy of the Outlook meeting: carried back, Graph would mail its
    # attendees an update (it cannot be told not to), so the copy is restored from the meeting
    await stack.google_edit(copy["id"], {"summary": "retro (moved)"})
    await eventually(lambda: arrived(stack, "google", "retro", lists(dave)), what="restored")
    assert await arrived(stack, "outlook", "retro") and not await arrived(stack, "outlook", "retro (moved)")
    # and deletes that Google copy: deleting the meeting would mail its attendees a cancellation,
    # so the copy comes back instead
    restored = await one(stack, "google", "retro")
    assert restored is not None
    await stack.google_delete(restored["id"])

    assert not await arrived(stack, "google", "retro")
    await eventually(lambda: arrived(stack, "google", "retro", lists(dave)), what="the deleted copy back")
    assert await arrived(stack, "outlook", "retro")

    # Then: the Google meeting kept its guests, and nobody was mailed by any write
    origin = await one(stack, "google", "planning (room 4)")
    assert origin is not None
    assert {a["email"] for a in origin.get("attendees", [])} >= {INTERNAL, EXTERNAL, ROOM, dave}
    counters = await stack.counters()
    assert counters["invitations"] == []
    assert set(counters["send_updates"]) <= {"none"}, counters["send_updates"]
    await settles_without_writes(stack)


async def test_given_outlook_events_labelled_with_a_custom_zone_then_google_gets_the_mailbox_zone(
    stack: Stack,
) -> None:
    # Given: Alice's Outlook is set to New York, and her desktop client labels the zone of a
    # summer series (five Mondays at 09:00, all 13:00Z: UTC would fit them) and of a meeting
    await stack.graph.add_mailbox("alice@example.com", time_zone="Eastern Standard Time")
    eastern = "Eastern Standard Time"
    await stack.outlook_create(
        {
            "subject": "summer class",
            "start": {"dateTime": "2027-06-07T09:00:00", "timeZone": eastern},
            "end": {"dateTime": "2027-06-07T10:00:00", "timeZone": eastern},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2027-06-07", "numberOfOccurrences": 5},
            },
            "originalStartTimeZone": "tzone://Microsoft/Custom",
        }
    )
    await stack.outlook_create(
        {
            "subject": "one-off",
            "start": {"dateTime": "2027-01-05T09:00:00", "timeZone": eastern},
            "end": {"dateTime": "2027-01-05T10:00:00", "timeZone": eastern},
            "originalStartTimeZone": "Customized Time Zone",
        }
    )

    # Then: Google's copies are in New York (not pinned to UTC), at the same instants
    def in_new_york(e: dict[str, Any]) -> bool:
        return e["start"].get("timeZone") == "America/New_York"

    await eventually(lambda: arrived(stack, "google", "summer class", in_new_york), what="the series")
    await eventually(lambda: arrived(stack, "google", "one-off", in_new_york), what="the meeting")
    series = await one(stack, "google", "summer class")
    single = await one(stack, "google", "one-off")
    assert series is not None and google_start(series) == datetime(2027, 6, 7, 13, tzinfo=UTC)
    assert single is not None and google_start(single) == datetime(2027, 1, 5, 14, tzinfo=UTC)
    await settles_without_writes(stack)
