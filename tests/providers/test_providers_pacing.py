"""Throttling as back-pressure: a throttled call waits as asked, slows its mailbox's other calls,
and gives up to the bus only past its patience. Time is a fake clock: no test sleeps."""

from __future__ import annotations

import asyncio
import random

import pytest
from providers_support import ALICE, meeting, stamp

from calbridge.errors import Throttled
from calbridge.providers.base import CalendarAddress, Fetched
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.pacing import MAX_BACKOFF, Pacing, throttle_wait
from sandbox.client import SandboxControl

HERE = CalendarAddress(ALICE)


class FakeTime:
    """A clock that a sleep moves on at once (`auto`), or that the test moves (`advance`)."""

    def __init__(self, *, auto: bool = True) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._auto = auto
        self._moved = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self._auto:
            self.now += seconds
            await asyncio.sleep(0)
            return
        until = self.now + seconds
        async with self._moved:
            await self._moved.wait_for(lambda: self.now >= until)

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        async with self._moved:
            self._moved.notify_all()
        for _ in range(5):
            await asyncio.sleep(0)


def test_given_a_wait_the_provider_named_then_it_is_kept_exactly() -> None:
    assert throttle_wait(Throttled(7.0), streak=5, draw=0.99) == 7.0


@pytest.mark.parametrize(("streak", "low", "high"), [(1, 2.5, 5.0), (2, 5.0, 10.0), (3, 10.0, 20.0)])
def test_given_no_named_wait_then_the_back_off_doubles_with_jitter(
    streak: int, low: float, high: float
) -> None:
    unnamed = Throttled(5.0, asked=False)
    assert throttle_wait(unnamed, streak, draw=0.0) == low
    assert low <= throttle_wait(unnamed, streak, draw=0.5) < high
    assert throttle_wait(unnamed, 30, draw=0.999) <= MAX_BACKOFF


async def test_given_a_throttled_call_then_it_waits_as_asked_and_succeeds_without_raising() -> None:
    time = FakeTime()
    pacing = Pacing(60, clock=time.clock, sleep=time.sleep, rng=random.Random(1))
    answers: list[Exception | str] = [Throttled(3.0), Throttled(2.0), "ok"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await pacing.call("graph", "Alice@example.com", call) == "ok"
    assert time.slept == [3.0, 2.0]
    assert pacing.closed_for("graph", "alice@example.com") == 0


async def test_given_a_throttled_mailbox_then_its_other_calls_wait_and_other_mailboxes_do_not() -> None:
    time = FakeTime(auto=False)
    pacing = Pacing(60, clock=time.clock, sleep=time.sleep)
    throttled_once = [Throttled(10.0)]

    async def first() -> str:
        if throttled_once:
            raise throttled_once.pop()
        return "first"

    order: list[str] = []

    async def note(name: str) -> str:
        order.append(f"{name}@{time.now - 1000:g}")
        return name

    task = asyncio.create_task(pacing.call("graph", "alice@example.com", first))
    await asyncio.sleep(0)  # the first call is throttled and closes Alice's gate for 10 s
    assert pacing.closed_for("graph", "alice@example.com") == 10.0
    await pacing.call("graph", "bob@example.com", lambda: note("bob"))
    second = asyncio.create_task(pacing.call("graph", "alice@example.com", lambda: note("alice")))
    await time.advance(4)
    assert order == ["bob@0"] and not second.done()  # Alice's second call waits at her gate
    await time.advance(6)
    assert await task == "first" and await second == "alice"
    assert order == ["bob@0", "alice@10"]


async def test_given_a_wait_longer_than_the_patience_then_throttled_with_the_time_left() -> None:
    time = FakeTime()
    pacing = Pacing(30, clock=time.clock, sleep=time.sleep)
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise Throttled(600.0, "graph 429")

    with pytest.raises(Throttled) as caught:
        await pacing.call("graph", "alice@example.com", refused)
    assert calls == 1 and time.slept == []  # no hammering a mailbox that asked for ten minutes
    assert caught.value.retry_after == 600.0
    # Meanwhile another call to that mailbox does not even try
    with pytest.raises(Throttled):
        await pacing.call("graph", "alice@example.com", refused)
    assert calls == 1


async def test_given_throttles_without_a_named_wait_then_they_back_off_until_patience_runs_out() -> None:
    time = FakeTime()
    pacing = Pacing(20, clock=time.clock, sleep=time.sleep, rng=random.Random(3))

    async def refused() -> None:
        raise Throttled(1.0, asked=False)

    with pytest.raises(Throttled):
        await pacing.call("google", "alice@example.com", refused)
    assert sum(time.slept) <= 20
    assert all(later > earlier for earlier, later in zip(time.slept, time.slept[1:], strict=False))


@pytest.mark.integration
async def test_given_throttled_pages_of_a_delta_feed_when_paced_then_each_page_is_asked_again_and_all_arrive(
    graph: GraphCalendar, control: SandboxControl
) -> None:
    """Against the sandbox and the real SDK: a throttled page is asked for again after the wait
    Outlook named, not the whole feed, and the caller never sees the throttle."""
    made = [
        await graph.create(HERE, meeting(f"m{n}", day=f"2026-12-0{n + 1}"), stamp(f"src{n}"))
        for n in range(7)
    ]
    time = FakeTime()  # the waits are recorded and the clock moved on, not spent: the test stays fast
    graph.pacing = Pacing(60, sleep=time.sleep, clock=time.clock)
    await control.set_fault("graph.events.delta", error_rate=0.5, error_status=429, retry_after=2)
    pages = [page async for page in graph.changes(HERE, None)]
    listed = {change.event.id for page in pages for change in page.changes if isinstance(change, Fetched)}
    assert {m.event.id for m in made} <= listed
    assert time.slept and all(wait == 2.0 for wait in time.slept), time.slept
