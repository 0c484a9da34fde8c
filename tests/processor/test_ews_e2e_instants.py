"""End to end, Google <-> Exchange over EWS: the second 01:30 of a fall-back night, an all-day
event whose last day springs forward, and Outlook's one reminder.

Given Alice's Google calendar paired two ways with her Exchange calendar (mailbox in New York),
when she makes a meeting at the second 01:30 on 2027-11-07 (06:30Z) in Google, and in Outlook an
all-day weekend whose Sunday is the spring-forward day, then each arrives on the other side at
the same instant and with the same days, and a resync writes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ews_e2e_stack import EwsStack, exchange_start, open_ews_stack
from processor_e2e import NIGHT_SHIFT, eventually, google_start, titled

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[EwsStack]:
    async with open_ews_stack(amqp_url, tmp_path) as opened:
        yield opened


async def test_given_the_second_0130_and_a_spring_forward_weekend_then_exchange_and_google_agree(
    stack: EwsStack,
) -> None:
    # Given: Google, the second 01:30 in New York with a 10-minute pop-up and a 60-minute e-mail
    await stack.google_create(NIGHT_SHIFT)
    # and Outlook on Exchange, an all-day weekend in New York whose Sunday springs forward
    await stack.exchange_create(
        subject="weekend away",
        start="2027-03-13T05:00:00Z",  # Saturday 00:00 EST
        end="2027-03-15T04:00:00Z",  # Monday 00:00 EDT
        is_all_day=True,
        time_zone="Eastern Standard Time",
    )

    # and an Exchange meeting at the second 01:30 too, made in New York's zone
    await stack.exchange_create(
        subject="night call",
        start="2027-11-07T06:30:00Z",
        end="2027-11-07T07:00:00Z",
        time_zone="Eastern Standard Time",
    )

    # Then: Exchange holds the second 01:30 (06:30Z) for an hour
    async def on_exchange() -> bool:
        found = [i for i in await stack.exchange_items() if i["subject"] == "night shift"]
        return len(found) == 1 and exchange_start(found[0]) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)

    await eventually(on_exchange, what="G->X at the second 01:30")
    [night] = [i for i in await stack.exchange_items() if i["subject"] == "night shift"]
    assert night["end"] == "2027-11-07T07:30:00Z"

    # and Google holds the whole weekend, Sunday included
    async def on_google() -> bool:
        found = titled(await stack.google_events(), "weekend away")
        return len(found) == 1

    await eventually(on_google, what="X->G all-day")
    [weekend] = titled(await stack.google_events(), "weekend away")
    assert weekend["start"] == {"date": "2027-03-13"} and weekend["end"] == {"date": "2027-03-15"}
    await eventually(lambda: _one_on_google(stack, "night call"), what="X->G at the second 01:30")
    [call] = titled(await stack.google_events(), "night call")
    assert google_start(call) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    assert call["start"]["timeZone"] == "America/New_York"

    # and nobody is mailed, and a resync writes nothing
    assert (await stack.counters())["invitations"] == []
    before = await stack.writes()
    await stack.resync()
    await eventually(stack.idle, what="the resync passes")
    assert await stack.writes() == before


async def test_given_meetings_with_attendees_on_google_and_exchange_then_listed_and_nobody_mailed(
    stack: EwsStack,
) -> None:
    internal, external, room = "bob@example.com", "carol@partner.test", "room-4@example.com"
    # Given: a Google meeting with an internal guest, an optional external one and a room
    google_id = await stack.google_create(
        {
            "summary": "planning",
            "start": {"dateTime": "2027-01-12T15:00:00Z"},
            "end": {"dateTime": "2027-01-12T16:00:00Z"},
            "attendees": [
                {"email": internal},
                {"email": external, "optional": True},
                {"email": room, "resource": True},
            ],
        }
    )
    # and an Exchange meeting Alice organizes
    item = await stack.exchange_create(
        subject="retro",
        start="2027-01-13T15:00:00Z",
        end="2027-01-13T16:00:00Z",
        attendees=[internal, external],
    )

    # Then: each copy lists the attendees in its text, as an appointment (no attendees of its own)
    async def on_exchange(*who: str) -> bool:
        found = [i for i in await stack.exchange_items() if i["subject"] == "planning"]
        return (
            len(found) == 1 and not found[0]["attendees"] and all(w in (found[0]["body"] or "") for w in who)
        )

    async def on_google(*who: str) -> bool:
        found = titled(await stack.google_events(), "retro")
        text = str(found[0].get("description") or "") if len(found) == 1 else ""
        return bool(text) and not found[0].get("attendees") and all(w in text for w in who)

    await eventually(lambda: on_exchange(internal, external, room), what="G->X")
    await eventually(lambda: on_google(internal, external), what="X->G")

    # When: the attendees change on each side
    dave = "dave@partner.test"
    await stack.google_edit(google_id, {"attendees": [{"email": internal}, {"email": dave}]})
    await stack.exchange_edit(item, attendees=[dave])
    await eventually(lambda: on_exchange(internal, dave), what="G->X edit")
    await eventually(lambda: on_google(dave), what="X->G edit")

    # Then: nobody was mailed by any write
    counters = await stack.counters()
    assert counters["invitations"] == []
    assert set(counters["send_updates"]) <= {"none"}, counters["send_updates"]


async def _one_on_google(stack: EwsStack, title: str) -> bool:
    return len(titled(await stack.google_events(), title)) == 1
