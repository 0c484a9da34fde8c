"""A pass applying several changes at once (`run_pass(concurrency=...)`): the other side ends up
as with one change at a time, series keep their exceptions, and a failure mid-pass is replayed
without duplicates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sync_fakes import Clock, FakeCalendar

from calbridge.errors import TransientProviderError
from calbridge.events import Provider
from calbridge.model import Event, InstanceOf, Recurrence, Timed
from calbridge.pairs.policy import Policy
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from processor.sync.engine import CalendarSide, Hint, PairContext, run_pass
from processor.sync.memory_links import MemoryLinks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SlowCalendar(FakeCalendar):
    """Every write yields to the loop first, as a network call would, and counts overlap."""

    in_flight = 0
    most = 0

    async def _slowly(self) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        await self._slowly()
        return await super().create(calendar, event, stamp)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        await self._slowly()
        return await super().update(calendar, event_id, event, stamp)


def world() -> tuple[FakeCalendar, SlowCalendar, PairContext, MemoryLinks]:
    clock = Clock()
    google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled", page_size=50)
    microsoft = SlowCalendar(Provider.GRAPH, "m", clock, page_size=50)
    pair = PairContext(
        Policy("p1"),
        CalendarSide("calg", CalendarAddress("ann@example.com"), google),
        CalendarSide("calm", CalendarAddress("ann@example.com"), microsoft),
    )
    return google, microsoft, pair, MemoryLinks()


def meeting(title: str, hours: int = 0, **more: object) -> Event:
    start = T0 + timedelta(hours=hours)
    return Event(id="", span=Timed(start, start + timedelta(hours=1)), title=title, **more)  # type: ignore[arg-type]


def people_edit(google: FakeCalendar) -> None:
    for n in range(12):
        google.person_create(meeting(f"single {n}", hours=n))
    series = google.person_create(meeting("weekly", recurrence=Recurrence(("RRULE:FREQ=WEEKLY;COUNT=4",))))
    moved = T0 + timedelta(days=7)
    google.person_create(meeting("weekly (moved)", hours=7 * 24 + 3, instance_of=InstanceOf(series, moved)))


def shown(calendar: FakeCalendar) -> list[tuple[str, bool]]:
    return sorted((s.event.title, s.event.instance_of is not None) for s in calendar.live().values())


async def test_given_many_changes_when_applied_four_at_a_time_then_the_result_is_as_one_at_a_time() -> None:
    google, microsoft, pair, links = world()
    people_edit(google)
    summary = await run_pass(pair, links, Hint("calg"), concurrency=4)

    one_google, one_microsoft, one_pair, one_links = world()
    people_edit(one_google)
    await run_pass(one_pair, one_links, Hint("calg"), concurrency=1)

    assert microsoft.most > 1, "writes overlapped"
    assert shown(microsoft) == shown(one_microsoft)
    assert ("weekly (moved)", True) in shown(microsoft), "the exception landed on the mirror series"
    assert summary.writes == 14


async def test_given_a_write_failing_mid_pass_then_the_replay_converges_without_duplicates() -> None:
    google, microsoft, pair, links = world()
    people_edit(google)
    microsoft.faults = ["after", "before"]  # one write happens but reports failure; one never happens
    with pytest.raises(TransientProviderError, match="injected"):  # the cursor stays put
        await run_pass(pair, links, Hint("calg"), concurrency=4)
    await run_pass(pair, links, Hint("calg"), concurrency=4)
    assert len(microsoft.live()) == 14, "every event once, none twice"
