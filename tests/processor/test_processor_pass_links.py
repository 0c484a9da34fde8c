"""PassLinks: one pass's link look-ups come from one read per side and follow its own saves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sync_fakes import Clock, FakeCalendar

from calbridge.events import Provider
from calbridge.model import Event, Timed
from calbridge.pairs.policy import Policy, Side
from calbridge.providers.base import CalendarAddress
from processor.sync.actions import Outcome
from processor.sync.engine import CalendarSide, Hint, PairContext, run_pass
from processor.sync.memory_links import MemoryLinks
from processor.sync.pass_links import PassLinks
from processor.sync.record import Link


class CountingLinks(MemoryLinks):
    """The in-memory store, counting the reads that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        self.reads += 1
        return await super().find(pair_id, side, event_id)

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        self.reads += 1
        return await super().find_many(pair_id, side, event_ids)


async def test_given_a_prefetch_when_finding_listed_ids_then_the_store_is_read_once() -> None:
    store = CountingLinks()
    kept = await store.save("p", Link(Side.GOOGLE, "g1", "m1"))
    links = PassLinks(store)
    await links.prefetch("p", {Side.GOOGLE: {"g1", "g2"}, Side.MICROSOFT: set()})
    assert await links.find("p", Side.GOOGLE, "g1") == kept
    assert await links.find("p", Side.GOOGLE, "g2") is None
    assert store.reads == 1


async def test_given_a_remembered_tombstone_when_a_new_link_replaces_it_then_finds_see_the_new_one() -> None:
    store = MemoryLinks()
    await store.save("p", Link(Side.GOOGLE, "g1", "m-old", deleted=True))
    links = PassLinks(store)
    await links.prefetch("p", {Side.GOOGLE: {"g1"}, Side.MICROSOFT: {"m-old", "m-new"}})
    saved = await links.save("p", Link(Side.GOOGLE, "g1", "m-new"))
    assert await links.find("p", Side.GOOGLE, "g1") == saved
    assert await links.find("p", Side.MICROSOFT, "m-new") == saved
    assert await links.find("p", Side.MICROSOFT, "m-old") is None
    assert await store.find("p", Side.MICROSOFT, "m-old") is None  # the memo agrees with the store


async def test_given_an_unlisted_id_when_found_then_the_store_is_asked() -> None:
    store = CountingLinks()
    kept = await store.save("p", Link(Side.MICROSOFT, None, "m1"))
    links = PassLinks(store)
    assert await links.find("p", Side.MICROSOFT, "m1") == kept
    assert await links.find("p", Side.MICROSOFT, "m1") == kept
    assert store.reads == 1


async def test_given_a_pass_of_new_events_when_synced_then_links_are_read_once_per_side() -> None:
    """The engine's pass: planning, the breaker's look-ahead and the creates share one read."""
    clock = Clock()
    google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled", page_size=50)
    microsoft = FakeCalendar(Provider.GRAPH, "m", clock, page_size=50)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for n in range(20):
        google.person_create(Event(id="", span=Timed(start, start + timedelta(hours=1)), title=f"e{n}"))
    store = CountingLinks()
    await store.save_cursor("calg", None, full=True)
    pair = PairContext(
        Policy("p1"),
        CalendarSide("calg", CalendarAddress("ann@example.com"), google),
        CalendarSide("calm", CalendarAddress("ann@example.com"), microsoft),
    )
    summary = await run_pass(pair, store, Hint("calg"))
    assert summary.outcomes[Outcome.CREATED] == 20 and len(microsoft.live()) == 20
    assert store.reads <= 2  # without the pass's memo: about three look-ups per change


IDS = st.sampled_from(["a", "b", "c", "d"])
SAVES = st.tuples(st.one_of(st.none(), IDS), st.one_of(st.none(), IDS), st.booleans()).filter(
    lambda t: t[0] is not None or t[1] is not None
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("save"), SAVES),
        st.tuples(st.just("find"), st.tuples(st.sampled_from(list(Side)), IDS)),
        st.tuples(st.just("prefetch"), st.tuples(st.sampled_from(list(Side)), st.sets(IDS))),
    ),
    max_size=30,
)


@given(steps=STEPS)
@settings(max_examples=200, deadline=None)
def test_given_any_saves_and_look_ups_then_the_memo_always_answers_as_the_store(
    steps: list[tuple[str, Any]],
) -> None:
    async def run() -> None:
        store = MemoryLinks()
        links = PassLinks(store)
        for verb, args in steps:
            if verb == "save":
                google_id, microsoft_id, deleted = args
                await links.save("p", Link(Side.GOOGLE, google_id, microsoft_id, deleted=deleted))
            elif verb == "find":
                side, event_id = args
                assert await links.find("p", side, event_id) == await store.find("p", side, event_id)
            else:
                side, ids = args
                await links.prefetch("p", {side: ids, side.other: set()})
        for side in Side:
            for event_id in "abcd":
                assert await links.find("p", side, event_id) == await store.find("p", side, event_id)

    asyncio.run(run())
