"""The two directions of one pair run one at a time, even on two replicas: no lost update.

The race the pair lock closes: the Google pass reads an older Google edit and stalls; meanwhile
the Microsoft pass copies a newer Outlook edit to Google; the Google pass then resumes and, with
the link now saying Google changed and Outlook did not, writes the older title over Outlook.
`StallingCalendar` holds the Google pass between its feed read and its planning, so that
window is wide open on every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from processor_world import GOOGLE_REF, MICROSOFT_REF, PAIR, add_pair, hint, meeting
from sync_fakes import Clock, FakeCalendar

from calbridge.events import Provider
from calbridge.metrics import REGISTRY
from calbridge.providers.base import CalendarAddress, CalendarProvider, ChangePage
from calbridge.store import create_engine
from processor.consumer import ChangeConsumer
from processor.directory import PairDirectory
from processor.pairlock import LocalPairLocks, PairLocks, pair_locks_for
from processor.providers import ProviderCache
from processor.sync.links import StoredLinks

pytestmark = pytest.mark.integration


class StallingCalendar(FakeCalendar):
    """After reading its feed (while `stall` is set), waits until the test releases it."""

    def __init__(self, provider: Provider, prefix: str, clock: Clock) -> None:
        super().__init__(provider, prefix, clock)
        self.stall = False
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        pages = [page async for page in super().changes(calendar, cursor)]
        if self.stall:
            self.read.set()
            await self.release.wait()
        for page in pages:
            yield page


def consumer_for(engine: object, calendars: dict[str, FakeCalendar], locks: PairLocks) -> ChangeConsumer:
    async def open_provider(connection_id: str) -> CalendarProvider:
        return calendars[connection_id]

    return ChangeConsumer(
        PairDirectory(engine),  # type: ignore[arg-type]
        StoredLinks(engine),  # type: ignore[arg-type]
        ProviderCache(open_provider),
        locks=locks,
    )


async def test_given_edits_on_both_sides_when_both_directions_run_at_once_then_the_newest_wins_everywhere(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    await add_pair(engine)
    clock = Clock()
    google = StallingCalendar(Provider.GOOGLE, "g", clock)
    microsoft = FakeCalendar(Provider.GRAPH, "m", clock)
    calendars: dict[str, FakeCalendar] = {"conn-g": google, "conn-m": microsoft}
    # Two replicas on PostgreSQL (each its own locks); one process with two shards on SQLite.
    first_locks = pair_locks_for(engine)
    second_locks = pair_locks_for(engine) if engine.dialect.name == "postgresql" else first_locks
    first = consumer_for(engine, calendars, first_locks)
    second = consumer_for(engine, calendars, second_locks)
    try:
        event_id = google.person_create(meeting("Planning"))
        await first(hint(GOOGLE_REF))
        await first(hint(MICROSOFT_REF))  # the echo of the mirror; both feeds are now read
        (mirror_id,) = microsoft.live()

        # given: an older edit in Google, then a newer one in Outlook
        google.person_edit(event_id, title="Older Google title")
        microsoft.person_edit(mirror_id, title="Newer Outlook title")

        # when: the Google pass has read its feed and stalls, the Outlook pass runs meanwhile
        waited_before = REGISTRY.get_sample_value("calbridge_pair_lock_wait_seconds_sum") or 0.0
        google.stall = True
        google_pass = asyncio.create_task(first(hint(GOOGLE_REF)))
        async with asyncio.timeout(5):
            await google.read.wait()
        google.stall = False
        outlook_pass = asyncio.create_task(second(hint(MICROSOFT_REF)))
        # Without the lock the Outlook pass completes now; with it, it waits for the Google one.
        await asyncio.wait({outlook_pass}, timeout=0.5)
        google.release.set()
        async with asyncio.timeout(10):
            await asyncio.gather(google_pass, outlook_pass)

        # then: the older Google title never overwrote the newer Outlook edit, on either side
        assert microsoft.live()[mirror_id].event.title == "Newer Outlook title"
        assert google.live()[event_id].event.title == "Newer Outlook title"
        waited = (REGISTRY.get_sample_value("calbridge_pair_lock_wait_seconds_sum") or 0.0) - waited_before
        assert waited >= 0.4, "operators see the Outlook pass waiting for the Google one"

        # and the hints the writes themselves raise are handled too
        await first(hint(GOOGLE_REF))
        await second(hint(MICROSOFT_REF))

        # and stays so once the echoes are read
        assert microsoft.live()[mirror_id].event.title == "Newer Outlook title"
        assert google.live()[event_id].event.title == "Newer Outlook title"
    finally:
        await first_locks.close()
        await second_locks.close()
        await engine.dispose()


async def test_given_one_pair_when_two_passes_ask_for_its_lock_then_the_second_waits_for_the_first() -> None:
    locks = LocalPairLocks()
    order: list[str] = []
    first_holds = asyncio.Event()
    other_entered = asyncio.Event()

    async def first() -> None:
        async with locks.hold(PAIR):
            first_holds.set()
            order.append("first in")
            await other_entered.wait()  # another pair's lock is free meanwhile
            order.append("first out")

    async def second() -> None:
        await first_holds.wait()
        async with locks.hold(PAIR):
            order.append("second in")

    async def other_pair() -> None:
        await first_holds.wait()
        async with locks.hold("another"):
            order.append("other pair in")
            other_entered.set()

    async with asyncio.timeout(5):
        await asyncio.gather(first(), second(), other_pair())
    assert order.index("second in") > order.index("first out")
    assert order.index("other pair in") < order.index("first out"), "other pairs do not wait"
