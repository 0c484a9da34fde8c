"""The cache: one provider call per (address, window) within its TTL, one call for identical
lookups in flight, and failures never kept."""

from __future__ import annotations

import asyncio

from freebusy_doubles import FakeClock, FakeSource, at, make_lookup, meeting, window

from calbridge.errors import TransientProviderError
from calbridge.events import Provider
from calbridge.freebusy.cache import CacheKey, FreeBusyCache
from calbridge.freebusy.types import AddressError, BusyResult, ErrorCode


def google() -> FakeSource:
    return FakeSource(Provider.GOOGLE, {"ada@example.com": [meeting(at(9), at(10))]})


async def test_given_an_answer_when_asked_again_within_the_ttl_then_the_provider_is_not_called() -> None:
    clock = FakeClock()
    source = google()
    lookup = make_lookup({"google-main": source}, ttl=30, clock=clock)
    first = await lookup.answer(["ada@example.com"], window())
    clock.advance(29)
    second = await lookup.answer(["ada@example.com"], window())
    assert first == second
    assert len(source.calls) == 1


async def test_given_the_ttl_passed_when_asked_again_then_the_provider_is_called_again() -> None:
    clock = FakeClock()
    source = google()
    lookup = make_lookup({"google-main": source}, ttl=30, clock=clock)
    await lookup.answer(["ada@example.com"], window())
    clock.advance(30)
    await lookup.answer(["ada@example.com"], window())
    assert len(source.calls) == 2


async def test_given_another_window_then_the_cache_does_not_answer_it() -> None:
    source = google()
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    await lookup.answer(["ada@example.com"], window(8, 18))
    await lookup.answer(["ada@example.com"], window(8, 19))
    assert len(source.calls) == 2


async def test_given_one_cached_and_one_new_address_then_only_the_new_one_is_asked() -> None:
    source = FakeSource(Provider.GOOGLE, {"ada@example.com": [], "alan@example.com": []})
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    await lookup.answer(["ada@example.com"], window())
    await lookup.answer(["ada@example.com", "alan@example.com"], window())
    assert source.calls[-1][0] == ("alan@example.com",)


async def test_given_identical_lookups_in_flight_then_one_provider_call_answers_all() -> None:
    release = asyncio.Event()
    source = google()
    source.stall = release
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    first = asyncio.create_task(lookup.answer(["ada@example.com"], window()))
    await asyncio.wait_for(source.started.wait(), 2)
    others = [asyncio.create_task(lookup.answer(["ada@example.com"], window())) for _ in range(10)]
    await asyncio.sleep(0)  # let them reach the cache and wait on the lookup in flight
    release.set()
    answers = await asyncio.wait_for(asyncio.gather(first, *others), 2)
    assert len(source.calls) == 1
    assert all(answer == answers[0] for answer in answers)
    assert isinstance(answers[0]["ada@example.com"], BusyResult)


async def test_given_a_provider_failure_then_it_is_not_cached_and_the_next_lookup_asks_again() -> None:
    source = google()
    source.fail_with = [TransientProviderError("down")]
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    failed = await lookup.answer(["ada@example.com"], window())
    assert isinstance(failed["ada@example.com"], AddressError)
    answered = await lookup.answer(["ada@example.com"], window())
    assert isinstance(answered["ada@example.com"], BusyResult)
    assert len(source.calls) == 2


async def test_given_an_unknown_address_then_that_answer_is_cached_like_any_other() -> None:
    source = google()
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    for _ in range(3):
        outcome = (await lookup.answer(["nobody@example.com"], window()))["nobody@example.com"]
        assert isinstance(outcome, AddressError) and outcome.code is ErrorCode.UNKNOWN_ADDRESS
    assert len(source.calls) == 1


async def test_given_ttl_zero_then_nothing_is_kept_but_flights_are_still_shared() -> None:
    cache = FreeBusyCache(0, clock=FakeClock())
    key = CacheKey("ada@example.com", at(8), at(18), "UTC")
    claim = cache.claim([key])
    assert claim.owned == [key]
    assert list(cache.claim([key]).waiting) == [key]
    cache.settle(key, BusyResult())
    assert cache.claim([key]).owned == [key]
    assert len(cache) == 0


async def test_given_more_entries_than_the_bound_then_the_oldest_go_first() -> None:
    cache = FreeBusyCache(60, clock=FakeClock(), max_entries=2)
    keys = [CacheKey(f"p{i}@example.com", at(8), at(18), "UTC") for i in range(3)]
    for key in keys:
        cache.claim([key])
        cache.settle(key, BusyResult())
    assert len(cache) == 2
    assert cache.claim([keys[0]]).owned == [keys[0]]
    assert keys[2] in cache.claim([keys[2]]).hits


async def test_given_the_fetching_caller_goes_away_then_waiting_lookups_still_get_an_answer() -> None:
    source = google()
    source.stall = asyncio.Event()  # never released
    lookup = make_lookup({"google-main": source}, clock=FakeClock())
    fetching = asyncio.create_task(lookup.answer(["ada@example.com"], window()))
    await asyncio.wait_for(source.started.wait(), 2)
    waiting = asyncio.create_task(lookup.answer(["ada@example.com"], window()))
    await asyncio.sleep(0)
    fetching.cancel()
    outcome = (await asyncio.wait_for(waiting, 2))["ada@example.com"]
    assert isinstance(outcome, AddressError) and outcome.code is ErrorCode.PROVIDER_FAILED
    assert len(source.calls) == 1
