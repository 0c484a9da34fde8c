"""End to end, every series arrives: Google series Outlook cannot express, skipped dates, and an
occurrence cancelled in Outlook.

Given Alice's Google calendar and her Outlook calendar paired on the sandbox (real receiver,
RabbitMQ and processor), one calendar carries several shapes at once, so the suite pays for one
stack:

- `FREQ=MONTHLY;BYMONTHDAY=31` (no Outlook pattern skips short months): single events;
- `FREQ=MONTHLY;BYMONTHDAY=1,15` and `FREQ=DAILY;BYHOUR=9,17`: two native series each;
- an `RDATE` extra date on a weekly series: single events;
- a weekly series with two `EXDATE`s, timed and all-day: those occurrences cancelled in Outlook;

and an occurrence Alice deletes in Outlook arrives in Google as a cancelled instance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from processor_e2e import (
    ALICE,
    BERLIN,
    PAIR,
    Stack,
    berlin,
    eventually,
    google_occurrences,
    open_stack,
    outlook_start,
    timed_series,
    titled,
)

from calbridge.pairs.event_failures import fetch_failures

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(150)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        yield opened


def all_day_series(title: str, start: str, end: str, *lines: str) -> dict[str, Any]:
    return {"summary": title, "start": {"date": start}, "end": {"date": end}, "recurrence": list(lines)}


def singles(events: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    return [e for e in titled(events, title) if not e.get("recurrence")]


def masters(events: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    return [e for e in titled(events, title) if e.get("recurrence")]


def cancelled_keys(master: dict[str, Any]) -> set[str]:
    return set(master.get("cancelledOccurrences") or [])


SHAPES: dict[str, dict[str, Any]] = {
    # Ends 2027-08-01: 31sts of Dec, Jan, Mar, May, Jul (Feb, Apr, Jun have none).
    "on the 31st": timed_series(
        "on the 31st",
        "2026-12-31T09:00:00",
        "2026-12-31T09:30:00",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270801T000000Z",
    ),
    "payroll": timed_series(
        "payroll", "2027-01-01T10:00:00", "2027-01-01T10:30:00", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=6"
    ),
    "meds": timed_series(
        "meds", "2027-01-04T09:00:00", "2027-01-04T09:15:00", "RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=10"
    ),
    "with an extra day": timed_series(
        "with an extra day",
        "2027-01-05T14:00:00",
        "2027-01-05T15:00:00",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "RDATE;TZID=Europe/Berlin:20270108T140000",
    ),
    "standup": timed_series(
        "standup",
        "2027-01-04T08:30:00",
        "2027-01-04T08:45:00",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        "EXDATE;TZID=Europe/Berlin:20270111T083000,20270125T083000",
    ),
    "gym day": all_day_series(
        "gym day",
        "2027-01-06",
        "2027-01-07",
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "EXDATE;VALUE=DATE:20270113,20270127",
    ),
}


async def test_given_series_outlook_cannot_express_or_with_skipped_dates_then_each_arrives_as_google_shows_it(
    stack: Stack,
) -> None:
    # Given: Alice makes six series in Google
    for body in SHAPES.values():
        await stack.google_create(body)

    # Then: each arrives in Outlook with Google's occurrences
    async def arrived() -> bool:
        events = await stack.outlook_events()
        thirty_first = sorted(outlook_start(e) for e in singles(events, "on the 31st"))
        extra = sorted(outlook_start(e) for e in singles(events, "with an extra day"))
        standup = masters(events, "standup")
        gym = masters(events, "gym day")
        return (
            thirty_first
            == [
                berlin("2026-12-31T09:00:00"),
                berlin("2027-01-31T09:00:00"),
                berlin("2027-03-31T09:00:00"),
                berlin("2027-05-31T09:00:00"),
                berlin("2027-07-31T09:00:00"),
            ]
            and len(masters(events, "payroll")) == 2
            and len(masters(events, "meds")) == 2
            and extra
            == [
                berlin("2027-01-05T14:00:00"),
                berlin("2027-01-08T14:00:00"),
                berlin("2027-01-12T14:00:00"),
                berlin("2027-01-19T14:00:00"),
            ]
            and len(standup) == 1
            and cancelled_keys(standup[0])
            == {
                berlin("2027-01-11T08:30:00").strftime("%Y%m%dT%H%M%SZ"),
                berlin("2027-01-25T08:30:00").strftime("%Y%m%dT%H%M%SZ"),
            }
            and len(gym) == 1
            and len(cancelled_keys(gym[0])) == 2
        )

    try:
        await eventually(arrived, within=60, what="every series in Outlook as Google shows it")
    except AssertionError:
        shown = [
            (e["subject"], bool(e.get("recurrence")), e.get("cancelledOccurrences"))
            for e in await stack.outlook_events()
        ]
        print(shown)  # what arrived, for the failure report
        raise
    events = await stack.outlook_events()
    payroll = sorted(m["recurrence"]["pattern"]["dayOfMonth"] for m in masters(events, "payroll"))
    assert payroll == [1, 15]
    meds = sorted(outlook_start(m) for m in masters(events, "meds"))
    assert meds == [berlin("2027-01-04T09:00:00"), berlin("2027-01-04T17:00:00")]
    gym_cancelled = {key[:8] for key in cancelled_keys(masters(events, "gym day")[0])}
    assert gym_cancelled == {"20270113", "20270127"}
    async with stack.engine.connect() as conn:
        assert await fetch_failures(conn, PAIR) == [], "no series is left out"
    counters = await stack.counters()
    assert counters["invitations"] == []

    # When: the 31st series ends earlier in Google (UNTIL in April)
    (series_id,) = [e["id"] for e in await stack.google_events() if e.get("summary") == "on the 31st"]
    await stack.google_edit(
        series_id, {"recurrence": ["RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270401T000000Z"]}
    )

    # Then: the occurrences after it are gone from Outlook
    async def shrunk() -> bool:
        events = await stack.outlook_events()
        return sorted(outlook_start(e) for e in singles(events, "on the 31st")) == [
            berlin("2026-12-31T09:00:00"),
            berlin("2027-01-31T09:00:00"),
            berlin("2027-03-31T09:00:00"),
        ]

    await eventually(shrunk, within=40, what="the shortened series in Outlook")

    # When: Alice deletes the January event in Outlook, and moves March's an hour later in Google
    (january,) = [
        e
        for e in singles(await stack.outlook_events(), "on the 31st")
        if outlook_start(e) == berlin("2027-01-31T09:00:00")
    ]
    await stack.outlook_delete(january["id"])
    march = berlin("2027-03-31T09:00:00")
    later = (
        {"dateTime": "2027-03-31T10:00:00", "timeZone": BERLIN},
        {"dateTime": "2027-03-31T10:30:00", "timeZone": BERLIN},
    )
    await stack.google_edit(f"{series_id}_{march:%Y%m%dT%H%M%SZ}", {"start": later[0], "end": later[1]})

    # Then: Google cancels January's occurrence, Outlook shows March's at 10:00
    async def mapped() -> bool:
        google = await google_occurrences(stack.control, ALICE, series_id)
        outlook = sorted(outlook_start(e) for e in singles(await stack.outlook_events(), "on the 31st"))
        moved = berlin("2027-03-31T10:00:00")
        return google == {berlin("2026-12-31T09:00:00"), moved} and outlook == [
            berlin("2026-12-31T09:00:00"),
            moved,
        ]

    await eventually(mapped, within=40, what="the deleted and the moved occurrence on the other side")

    # When: Alice renames December's event in Outlook; Then: that Google occurrence is renamed
    (december,) = [
        e
        for e in singles(await stack.outlook_events(), "on the 31st")
        if outlook_start(e) == berlin("2026-12-31T09:00:00")
    ]
    await stack.outlook_edit(december["id"], {"subject": "on the 31st (year end)"})
    first = berlin("2026-12-31T09:00:00")

    async def renamed() -> bool:
        state = await stack.control.google.calendar(ALICE)
        instance = [e for e in state["events"] if e["id"] == f"{series_id}_{first:%Y%m%dT%H%M%SZ}"]
        return [e.get("summary") for e in instance] == ["on the 31st (year end)"]

    await eventually(renamed, within=40, what="the renamed occurrence in Google")


async def test_given_mirrored_series_when_alice_deletes_an_occurrence_in_outlook_then_google_cancels_it(
    stack: Stack,
) -> None:
    # Given: a timed and an all-day weekly series from Google, mirrored in Outlook
    timed = await stack.google_create(
        timed_series("review", "2027-02-01T11:00:00", "2027-02-01T12:00:00", "RRULE:FREQ=WEEKLY;COUNT=4")
    )
    all_day = await stack.google_create(
        all_day_series("team day", "2027-02-03", "2027-02-04", "RRULE:FREQ=WEEKLY;COUNT=4")
    )

    async def mirrored() -> bool:
        events = await stack.outlook_events()
        return len(masters(events, "review")) == len(masters(events, "team day")) == 1

    await eventually(mirrored, within=40, what="the series in Outlook")
    events = await stack.outlook_events()
    (review,), (team_day,) = masters(events, "review"), masters(events, "team day")

    # When: Alice deletes the second occurrence of each in Outlook
    await stack.graph.delete_occurrence(ALICE, review["id"], berlin("2027-02-08T11:00:00").isoformat())
    await stack.graph.delete_occurrence(ALICE, team_day["id"], "2027-02-10")

    # Then: Google shows those instances cancelled (as the API lists them), the others untouched
    async def cancelled_in_google() -> bool:
        state = await stack.control.google.calendar(ALICE)
        cancelled = {
            (
                e["recurringEventId"],
                e["originalStartTime"].get("dateTime", e["originalStartTime"].get("date")),
            )
            for e in state["events"]
            if e.get("recurringEventId") and e.get("status") == "cancelled"
        }
        return cancelled == {(timed, "2027-02-08T11:00:00+01:00"), (all_day, "2027-02-10")}

    await eventually(cancelled_in_google, within=40, what="the cancelled instances in Google")
    live = [e for e in await stack.google_events() if e.get("recurringEventId")]
    assert live == [], "only those occurrences changed"
