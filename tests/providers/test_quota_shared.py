"""Quota budgets shared by processes: what each spends comes out of one count in the store.

The clock is injected: no test waits for a window to pass."""

from __future__ import annotations

import asyncio
import time

import pytest

from calbridge.errors import Throttled
from calbridge.providers.budget import QuotaBook
from calbridge.providers.pacing import Pacing
from calbridge.providers.quota import Quota, QuotaKey
from calbridge.store import create_engine
from calbridge.store.quota_windows import MemoryQuotaStore, SqlQuotaStore

PROJECT = Quota("project", QuotaKey.OWNER, 1_000, 60)  # batches of 5
USER = Quota("user", QuotaKey.MAILBOX, 60, 60)  # batches of 1
START = 1_800_000_000 - 1_800_000_000 % 60


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def _spend(book: QuotaBook, quotas: tuple[Quota, ...], owner: str, mailbox: str, tries: int) -> int:
    gate = book.gate("google", quotas, owner)
    assert gate is not None
    granted = 0
    for _ in range(tries):
        if await gate.admit(mailbox) == 0:
            granted += 1
    return granted


@pytest.mark.integration
async def test_given_two_replicas_on_one_store_when_both_spend_then_together_they_stay_within_the_quota(
    database_url: str,
) -> None:
    # Given two processes' books over one store, at one instant of one window
    engine = create_engine(database_url)
    clock = Clock(START + 5)
    try:
        one = QuotaBook(SqlQuotaStore(engine), clock=clock)
        two = QuotaBook(SqlQuotaStore(engine), clock=clock)
        # When each tries 700 requests against a project quota of 1,000 per minute, interleaved
        results = await asyncio.gather(
            _spend(one, (PROJECT,), "proj-a", "u@example.com", 700),
            _spend(two, (PROJECT,), "proj-a", "u@example.com", 700),
        )
        # Then together they were granted exactly the quota, in batches, not a request each
        assert sum(results) == 1_000
        assert min(results) > 0
        assert one.round_trips + two.round_trips <= 1_000 / PROJECT.batch + 2
        # And another project's count is its own
        assert await _spend(one, (PROJECT,), "proj-b", "u@example.com", 10) == 10
        # When the window has passed (and the sliding estimate let go of the last one)
        clock.at = START + 125
        # Then the quota is there again
        assert await _spend(two, (PROJECT,), "proj-a", "u@example.com", 1_000) == 1_000
    finally:
        await engine.dispose()


async def test_given_a_spent_user_when_its_project_has_room_then_the_project_is_not_charged() -> None:
    # Given a user who spent their minute
    clock = Clock(START + 1)
    store = MemoryQuotaStore()
    book = QuotaBook(store, clock=clock)
    assert await _spend(book, (USER, PROJECT), "proj", "busy@example.com", 60) == 60
    # When they ask again
    gate = book.gate("google", (USER, PROJECT), "proj")
    assert gate is not None
    wait = await gate.admit("busy@example.com")
    # Then they wait about a window, and the project's requests are left for others
    assert 59 < wait < 61
    others = [await _spend(book, (USER, PROJECT), "proj", f"u{n}@example.com", 60) for n in range(16)]
    assert sum(others) == 940


async def test_given_a_spent_quota_when_a_call_is_paced_then_it_waits_within_patience_or_is_handed_back() -> (
    None
):
    clock = Clock(START + 1)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the injected clock moves instead of time passing
        slept.append(seconds)
        clock.at += seconds

    book = QuotaBook(MemoryQuotaStore(), clock=clock)
    gate = book.gate("google", (USER,), "proj")
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        return calls

    # Given a user whose minute is spent
    patient = Pacing(120, clock=clock, sleep=sleep, quota=gate)
    for _ in range(60):
        await patient.call("google", "u@example.com", call)
    # When one more call is made with patience to spare, then it waits for the quota and runs
    assert await patient.call("google", "u@example.com", call) == 61
    assert len(slept) == 1 and 59 < slept[0] < 61
    # When the patience is shorter than the wait, then it is handed back as Throttled with the wait
    hasty = Pacing(5, clock=clock, sleep=sleep, quota=gate)
    for _ in range(60):
        await hasty.call("google", "v@example.com", call)
    with pytest.raises(Throttled) as raised:
        await hasty.call("google", "v@example.com", call)
    assert raised.value.retry_after > 5 and calls == 121


async def test_given_a_book_when_most_requests_are_served_locally_then_admission_is_cheap() -> None:
    # Given quotas large enough that nothing waits
    book = QuotaBook(MemoryQuotaStore(), clock=Clock(START + 1))
    gate = book.gate("graph", (Quota("mailbox", QuotaKey.MAILBOX, 100_000, 600),), "app")
    assert gate is not None
    # When 10,000 requests are admitted
    began = time.perf_counter()
    for n in range(10_000):
        assert await gate.admit(f"m{n % 10}@example.com") == 0
    per_request = (time.perf_counter() - began) / 10_000
    # Then one reservation in 500 reached the store, and a request costs microseconds
    assert book.round_trips == 20
    assert per_request < 0.0005


@pytest.mark.integration
async def test_given_keys_idle_for_days_when_swept_then_only_their_rows_are_forgotten(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        store = SqlQuotaStore(engine, sweep_every=3)
        # Given a user who called two days ago and one who calls now
        await store.reserve("google/user/p/old@example.com", USER, 1, START - 2 * 86_400 - 60)
        await store.reserve("google/user/p/new@example.com", USER, 1, START)
        # When the third reservation sweeps
        await store.reserve("google/user/p/new@example.com", USER, 1, START + 1)
        # Then the idle key's row is gone and the active one keeps its count
        assert await store.peek("google/user/p/old@example.com") is None
        kept = await store.peek("google/user/p/new@example.com")
        assert kept is not None and kept.used == 2
    finally:
        await engine.dispose()


async def test_given_a_per_mailbox_quota_with_a_local_share_then_it_costs_no_store_round_trip() -> None:
    # Given Outlook's 10,000 per 10 minutes per mailbox, half of it counted in each process
    mailbox = Quota("mailbox", QuotaKey.MAILBOX, 10, 600, local_share=2)
    book = QuotaBook(MemoryQuotaStore(), clock=Clock(START + 1))
    # When one process spends a mailbox's quota
    granted = await _spend(book, (mailbox,), "app", "m@example.com", 8)
    # Then it gets its half, and the store was never asked
    assert granted == 5
    assert book.round_trips == 0
