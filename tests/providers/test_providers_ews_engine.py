"""The sync engine over two EWS mailboxes (alice's calendar as one side, bob's as the other), both
through the real exchangelib against the emulator: mirrors appear once, read back as what was
written (so the echo and a repeated pass write nothing), series keep their exceptions, and
nobody is mailed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib.recurrence import Recurrence as EwsRecurrence
from exchangelib.recurrence import WeeklyPattern

from calbridge.model import EventStatus
from calbridge.pairs.policy import Policy
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from calbridge.providers.ews.adapter import EwsProvider
from processor.sync.actions import Outcome
from processor.sync.engine import CalendarSide, Hint, PairContext, run_pass
from processor.sync.memory_links import MemoryLinks
from sandbox.ews.testing import RunningEws, basic_account

pytestmark = pytest.mark.integration
ALICE, BOB = "alice@example.com", "bob@example.com"
UTC = EWSTimeZone("UTC")


async def everything(provider: EwsProvider, mailbox: str) -> list[Fetched]:
    return [
        c
        async for page in provider.changes(CalendarAddress(mailbox), None)
        for c in page.changes
        if isinstance(c, Fetched)
    ]


async def test_given_a_persons_events_in_one_mailbox_when_synced_then_mirrored_once_and_settled(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    pair = PairContext(
        Policy("p1"),
        CalendarSide("cal-alice", CalendarAddress(ALICE), ews_provider),
        CalendarSide("cal-bob", CalendarAddress(BOB), ews_provider),
    )
    links = MemoryLinks()
    ews.control.create_item(
        ALICE,
        subject="Review",
        start="2026-05-06T09:00:00Z",
        end="2026-05-06T10:00:00Z",
        attendees=["carol@example.com"],
        body="agenda",
        location="Room 1",
        time_zone="W. Europe Standard Time",
    )
    ews.control.create_item(
        ALICE,
        subject="Holiday",
        start="2026-05-13T22:00:00Z",
        end="2026-05-14T22:00:00Z",
        is_all_day=True,
        time_zone="W. Europe Standard Time",
        free_busy="OOF",
    )

    first = await run_pass(pair, links, Hint("cal-alice"))
    again = await run_pass(pair, links, Hint("cal-alice"))
    echo = await run_pass(pair, links, Hint("cal-bob"))

    assert first.outcomes[Outcome.CREATED] == 2 and again.writes == 0
    assert echo.writes == 0 and echo.outcomes[Outcome.SKIP_ECHO] == 2
    mirrors = {f.event.title: f for f in await everything(ews_provider, BOB)}
    originals = {f.event.title: f.event for f in await everything(ews_provider, ALICE)}
    assert set(mirrors) == {"Review", "Holiday"}
    assert all(m.stamp is not None and m.stamp.pair_id == "p1" for m in mirrors.values())
    assert mirrors["Holiday"].event.span == originals["Holiday"].span
    assert mirrors["Review"].event.span == originals["Review"].span
    assert mirrors["Review"].event.attendees == originals["Review"].attendees  # as facts, not invitations
    assert ews.counters.invitations == []


async def test_given_a_mirrored_event_when_the_person_edits_then_deletes_it_then_the_mirror_follows(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    pair = PairContext(
        Policy("p1"),
        CalendarSide("cal-alice", CalendarAddress(ALICE), ews_provider),
        CalendarSide("cal-bob", CalendarAddress(BOB), ews_provider),
    )
    links = MemoryLinks()
    item = ews.control.create_item(
        ALICE, subject="Draft", start="2026-05-06T09:00:00Z", end="2026-05-06T10:00:00Z"
    )
    await run_pass(pair, links, Hint("cal-alice"))

    ews.control.edit_item(ALICE, item["id"], subject="Final")
    edited = await run_pass(pair, links, Hint("cal-alice"))
    titles = [f.event.title for f in await everything(ews_provider, BOB)]
    ews.control.delete_item(ALICE, item["id"])
    deleted = await run_pass(pair, links, Hint("cal-alice"))

    assert edited.outcomes[Outcome.UPDATED] == 1 and titles == ["Final"]
    assert deleted.outcomes[Outcome.DELETED] == 1
    assert [
        f for f in await everything(ews_provider, BOB) if f.event.status is not EventStatus.CANCELLED
    ] == []
    assert await ews_provider.find_mirror(CalendarAddress(BOB), MirrorStamp("p1", item["id"])) is None
    assert ews.counters.invitations == []


async def test_given_a_series_with_a_moved_and_a_deleted_occurrence_when_synced_then_the_mirror_matches(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    pair = PairContext(
        Policy("p1"),
        CalendarSide("cal-alice", CalendarAddress(ALICE), ews_provider),
        CalendarSide("cal-bob", CalendarAddress(BOB), ews_provider),
    )
    links = MemoryLinks()
    acc: Any = basic_account(ews, ALICE)
    master = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Weekly",
        start=EWSDateTime(2026, 5, 4, 9, tzinfo=UTC),
        end=EWSDateTime(2026, 5, 4, 10, tzinfo=UTC),
        recurrence=EwsRecurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=date(2026, 5, 4), number=6
        ),
    )
    master.save(send_meeting_invitations="SendToNone")
    second = master.occurrence(2)
    second.refresh()
    second.subject = "Moved once"
    second.start, second.end = second.start + timedelta(hours=2), second.end + timedelta(hours=2)
    second.save(update_fields=["subject", "start", "end"])
    third = master.occurrence(3)
    third.refresh()
    third.delete()

    first = await run_pass(pair, links, Hint("cal-alice"))
    again = await run_pass(pair, links, Hint("cal-alice"))
    echo = await run_pass(pair, links, Hint("cal-bob"))

    mirrors = {f.event.title: f.event for f in await everything(ews_provider, BOB)}
    originals = {f.event.title: f.event for f in await everything(ews_provider, ALICE)}
    assert first.writes == 2 and again.writes == 0 and echo.writes == 0
    assert mirrors["Weekly"].recurrence == originals["Weekly"].recurrence  # RRULE + the deleted Monday
    assert mirrors["Moved once"].span == originals["Moved once"].span
    assert mirrors["Moved once"].instance_of is not None
    assert mirrors["Moved once"].instance_of.master_id == next(
        f.event.id for f in await everything(ews_provider, BOB) if f.event.title == "Weekly"
    )
    assert ews.counters.invitations == []
