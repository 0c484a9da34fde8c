"""End to end over EWS, every series arrives: skipped dates, series Exchange cannot express, and
an occurrence deleted in Outlook on Exchange.

Given Alice's Google calendar paired with her Exchange calendar (real EWS listener, receiver,
RabbitMQ and processor), several series on one calendar:

- a weekly series with two `EXDATE`s, timed and all-day: those occurrences deleted on Exchange;
- `FREQ=MONTHLY;BYMONTHDAY=31`: single items; `BYMONTHDAY=1,15`: two native series;

and an occurrence Alice deletes in Outlook arrives in Google as a cancelled instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ews_e2e_stack import ALICE, EwsStack, exchange_start, open_ews_stack
from processor_e2e import berlin, eventually, google_occurrences, timed_series

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(150)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[EwsStack]:
    async with open_ews_stack(amqp_url, tmp_path) as opened:
        yield opened


def subject(items: list[dict[str, Any]], title: str, *, recurring: bool) -> list[dict[str, Any]]:
    return [i for i in items if i["subject"] == title and i["recurring"] is recurring]


async def test_given_series_with_skipped_dates_or_no_exchange_pattern_then_each_arrives_and_deletions_return(
    stack: EwsStack,
) -> None:
    # Given: Alice makes five series in Google
    await stack.google_create(
        timed_series(
            "standup",
            "2027-01-04T08:30:00",
            "2027-01-04T08:45:00",
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
            "EXDATE;TZID=Europe/Berlin:20270111T083000,20270125T083000",
        )
    )
    gym_day = await stack.google_create(
        {
            "summary": "gym day",
            "start": {"date": "2027-01-06"},
            "end": {"date": "2027-01-07"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;VALUE=DATE:20270113,20270127"],
        }
    )
    await stack.google_create(
        timed_series(
            "on the 31st",
            "2026-12-31T09:00:00",
            "2026-12-31T09:30:00",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270601T000000Z",
        )
    )
    await stack.google_create(
        timed_series(
            "payroll",
            "2027-01-01T10:00:00",
            "2027-01-01T10:30:00",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=6",
        )
    )
    review = await stack.google_create(
        timed_series("review", "2027-02-01T11:00:00", "2027-02-01T12:00:00", "RRULE:FREQ=WEEKLY;COUNT=4")
    )

    # Then: Exchange holds them as Google shows them
    async def arrived() -> bool:
        items = await stack.exchange_items()
        standup = subject(items, "standup", recurring=True)
        gym = subject(items, "gym day", recurring=True)
        thirty_first = sorted(exchange_start(i) for i in subject(items, "on the 31st", recurring=False))
        return (
            len(standup) == 1
            and len(standup[0]["deleted_occurrences"]) == 2
            and len(gym) == 1
            and len(gym[0]["deleted_occurrences"]) == 2
            and thirty_first
            == [
                berlin(d)
                for d in (
                    "2026-12-31T09:00:00",
                    "2027-01-31T09:00:00",
                    "2027-03-31T09:00:00",
                    "2027-05-31T09:00:00",
                )
            ]
            and len(subject(items, "payroll", recurring=True)) == 2
            and len(subject(items, "review", recurring=True)) == 1
        )

    try:
        await eventually(arrived, within=60, what="every series on Exchange as Google shows it")
    except AssertionError:
        print(
            [
                (i["subject"], i["start"], i["recurring"], i["deleted_occurrences"])
                for i in await stack.exchange_items()
            ]
        )
        raise
    items = await stack.exchange_items()
    assert sorted(subject(items, "standup", recurring=True)[0]["deleted_occurrences"]) == [2, 4]
    assert sorted(subject(items, "gym day", recurring=True)[0]["deleted_occurrences"]) == [2, 4]
    payroll = sorted(exchange_start(i) for i in subject(items, "payroll", recurring=True))
    assert payroll == [berlin("2027-01-01T10:00:00"), berlin("2027-01-15T10:00:00")]

    # When: Alice deletes the second "review" occurrence and the third gym day in Outlook
    (mirror,) = subject(items, "review", recurring=True)
    await asyncio.to_thread(stack.exchange.delete_occurrence, ALICE, mirror["id"], 2)
    (gym,) = subject(items, "gym day", recurring=True)
    await asyncio.to_thread(stack.exchange.delete_occurrence, ALICE, gym["id"], 3)

    # Then: Google no longer has that occurrence (an EXDATE or a cancelled instance), only it
    async def cancelled_in_google() -> bool:
        reviews = await google_occurrences(stack.control, ALICE, review)
        gym_days = await google_occurrences(stack.control, ALICE, gym_day)
        return reviews == {
            berlin(d) for d in ("2027-02-01T11:00:00", "2027-02-15T11:00:00", "2027-02-22T11:00:00")
        } and gym_days == {date(2027, 1, 6), date(2027, 2, 3)}

    await eventually(cancelled_in_google, within=40, what="the occurrences gone from Google")
    assert (await stack.counters())["invitations"] == []
