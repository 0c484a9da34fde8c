"""End to end, Google <-> Exchange over EWS, on the sandbox with real RabbitMQ.

Given Alice's Google calendar paired two ways with her Exchange calendar (streamed by the EWS
listener); when she creates, renames, moves and deletes events on either side, adds an all-day
event, a meeting on a DST day and a weekly series with one moved and one cancelled occurrence,
while Exchange repeats, reorders and drops notifications and her stream is cut and her
subscription dropped; then the other side shows each change with exact times, nothing is
duplicated, nobody is invited, and a resync afterwards writes nothing (no echoes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ews_e2e_stack import ALICE, EwsStack, exchange_start, open_ews_stack
from processor_e2e import eventually, google_start, titled

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[EwsStack]:
    async with open_ews_stack(amqp_url, tmp_path) as opened:
        yield opened


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def on_exchange(stack: EwsStack, subject: str, start: datetime | str | None = None) -> bool:
    found = [i for i in await stack.exchange_items() if i["subject"] == subject]
    return len(found) == 1 and (start is None or exchange_start(found[0]) == start)


async def on_google(stack: EwsStack, title: str, start: datetime | str | None = None) -> bool:
    found = titled(await stack.google_events(), title)
    return len(found) == 1 and (start is None or google_start(found[0]) == start)


async def off_exchange(stack: EwsStack, subject: str) -> bool:
    return not [i for i in await stack.exchange_items() if i["subject"] == subject]


async def off_google(stack: EwsStack, title: str) -> bool:
    return not titled(await stack.google_events(), title)


def timed(title: str, start: str, end: str, zone: str | None = None) -> dict[str, Any]:
    def point(value: str) -> dict[str, str]:
        return {"dateTime": value, "timeZone": zone} if zone else {"dateTime": value}

    return {"summary": title, "start": point(start), "end": point(end)}


async def test_given_a_google_exchange_pair_when_alice_edits_both_sides_then_each_change_lands_once(
    stack: EwsStack,
) -> None:
    # Create, rename and move on the Google side
    google_id = await stack.google_create(timed("standup", "2026-11-25T09:00:00Z", "2026-11-25T09:30:00Z"))
    await eventually(lambda: on_exchange(stack, "standup", at("2026-11-25T09:00:00Z")), what="create G->X")
    await stack.google_edit(
        google_id,
        {"summary": "standup (daily)", "start": {"dateTime": "2026-11-25T11:00:00Z"},
         "end": {"dateTime": "2026-11-25T11:30:00Z"}},
    )  # fmt: skip
    await eventually(
        lambda: on_exchange(stack, "standup (daily)", at("2026-11-25T11:00:00Z")), what="edit G->X"
    )

    # Create, rename and move on the Exchange side
    item = await stack.exchange_create(
        subject="review", start="2026-11-26T14:00:00Z", end="2026-11-26T15:00:00Z"
    )
    await eventually(lambda: on_google(stack, "review", at("2026-11-26T14:00:00Z")), what="create X->G")
    await stack.exchange_edit(
        item, subject="review (final)", start="2026-11-26T16:00:00Z", end="2026-11-26T17:00:00Z"
    )
    await eventually(lambda: on_google(stack, "review (final)", at("2026-11-26T16:00:00Z")), what="edit X->G")

    # All-day and a meeting on the day New York springs forward keep exact dates and instants
    await stack.google_create(
        {"summary": "offsite", "start": {"date": "2026-11-27"}, "end": {"date": "2026-11-28"}}
    )
    await stack.google_create(
        timed("dst day", "2027-03-14T09:00:00", "2027-03-14T10:00:00", zone="America/New_York")
    )
    await eventually(lambda: on_exchange(stack, "offsite", "2026-11-27"), what="all-day G->X")
    await eventually(lambda: on_exchange(stack, "dst day", at("2027-03-14T13:00:00Z")), what="DST day G->X")
    await stack.exchange_create(
        subject="holiday", start="2026-12-24T00:00:00Z", end="2026-12-25T00:00:00Z", is_all_day=True
    )
    await eventually(lambda: on_google(stack, "holiday", "2026-12-24"), what="all-day X->G")
    [holiday] = titled(await stack.google_events(), "holiday")
    assert holiday["end"] == {"date": "2026-12-25"}

    # Delete: in Google; in Outlook by moving to Deleted Items
    await stack.google_delete(google_id)
    await stack.exchange_move_to_deleted_items(item)
    await eventually(lambda: off_exchange(stack, "standup (daily)"), what="delete G->X")
    await eventually(lambda: off_google(stack, "review (final)"), what="delete X->G")

    # Then: one copy of everything, nobody invited, and a resync writes nothing
    google_titles = sorted(e["summary"] for e in await stack.google_events())
    exchange_subjects = sorted(i["subject"] for i in await stack.exchange_items())
    assert google_titles == exchange_subjects == ["dst day", "holiday", "offsite"]
    counters = await stack.counters()
    assert counters["invitations"] == []
    assert set(counters["send_updates"]) <= {"none"}, counters["send_updates"]
    await eventually(stack.idle, what="the queues drained")
    before = await stack.writes()
    await stack.resync()
    await asyncio.sleep(0.5)  # give a wrong echo write the chance to happen before it is counted
    await eventually(stack.idle, what="the resync passes")
    assert await stack.writes() == before, "a resync after everything settled wrote something"


async def test_given_a_series_and_a_faulty_exchange_stream_then_both_sides_converge(stack: EwsStack) -> None:
    await stack.control.set_notification_faults("ews", duplicate_rate=0.5, reorder=True)
    await stack.control.set_notification_faults("google", duplicate_rate=0.5, reorder=True)

    # A weekly series in Google, then one occurrence moved and one cancelled
    series = await stack.google_create(
        {**timed("1:1", "2026-12-01T10:00:00", "2026-12-01T10:30:00", zone="Europe/Berlin"),
         "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"]}
    )  # fmt: skip
    await eventually(lambda: on_exchange(stack, "1:1"), what="the series G->X")
    moved = {"dateTime": "2026-12-08T11:00:00+01:00"}, {"dateTime": "2026-12-08T11:30:00+01:00"}
    await stack.control.google.edit_event(
        ALICE, f"{series}_20261208T090000Z", {"start": moved[0], "end": moved[1]}
    )
    await stack.control.google.delete_event(ALICE, f"{series}_20261215T090000Z")

    async def exceptions_on_exchange() -> bool:
        masters = [i for i in await stack.exchange_items() if i["subject"] == "1:1" and i["recurring"]]
        return len(masters) == 1 and (
            len(masters[0]["modified_occurrences"]),
            len(masters[0]["deleted_occurrences"]),
        ) == (1, 1)

    await eventually(exceptions_on_exchange, within=30, what="the moved and cancelled occurrences G->X")

    # The stream is cut while Alice works in Outlook, then her subscription is dropped
    await asyncio.to_thread(stack.exchange.cut_streams, ALICE)
    during_cut = await stack.exchange_create(
        subject="during cut", start="2026-12-02T08:00:00Z", end="2026-12-02T09:00:00Z"
    )
    await eventually(
        lambda: on_google(stack, "during cut"), within=30, what="a change made while the stream was cut"
    )
    await eventually(stack.streaming, what="streaming again")
    (subscription,) = [
        s["id"] for s in await asyncio.to_thread(stack.exchange.subscriptions) if s["mailbox"] == ALICE
    ]
    await asyncio.to_thread(stack.exchange.drop_subscription, subscription)
    await stack.exchange_edit(during_cut, subject="after drop")
    await eventually(
        lambda: on_google(stack, "after drop"), within=30, what="a change after the subscription was dropped"
    )
    await eventually(lambda: off_google(stack, "during cut"), what="the old title gone")

    # Exchange loses a notification altogether: the periodic resync brings the change across
    await stack.control.set_notification_faults("ews", drop_rate=1.0)
    await stack.exchange_edit(during_cut, subject="dropped notification")
    await eventually(stack.idle, what="the queues drained")
    await stack.resync()
    await eventually(
        lambda: on_google(stack, "dropped notification"), within=30, what="the resync after a drop"
    )

    # Then: no duplicates on either side, nobody invited
    await eventually(stack.idle, what="the queues drained")
    google_titles = sorted(e["summary"] for e in await stack.google_events() if not e.get("recurringEventId"))
    exchange_subjects = sorted(i["subject"] for i in await stack.exchange_items())
    assert google_titles == exchange_subjects == ["1:1", "dropped notification"]
    assert (await stack.counters())["invitations"] == []
