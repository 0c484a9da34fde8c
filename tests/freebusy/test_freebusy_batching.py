"""As few provider calls as the providers allow: 50 / 20 / 100 addresses, 60 / 61 / 42 days."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from freebusy_doubles import at

from calbridge.events import Provider
from calbridge.freebusy.batching import ProviderLimits, batches, plan_calls, slices
from calbridge.providers.registry import profile_for


def limits(provider: Provider) -> ProviderLimits:
    return profile_for(provider).freebusy


ADDRESSES = [f"person{i}@example.com" for i in range(230)]


@pytest.mark.parametrize(
    ("provider", "sizes"),
    [
        (Provider.GOOGLE, [50, 50, 50, 50, 30]),
        (Provider.GRAPH, [20] * 11 + [10]),
        (Provider.EWS, [100, 100, 30]),
    ],
)
def test_given_230_addresses_when_planned_then_each_provider_gets_full_batches(
    provider: Provider, sizes: list[int]
) -> None:
    calls = plan_calls(ADDRESSES, at(8), at(18), limits(provider))
    assert [len(call.addresses) for call in calls] == sizes
    assert [a for call in calls for a in call.addresses] == ADDRESSES  # every address once, in order


@pytest.mark.parametrize("provider", list(Provider))
def test_given_exactly_the_limit_then_one_call(provider: Provider) -> None:
    limit = limits(provider).max_addresses
    assert len(plan_calls(ADDRESSES[:limit], at(8), at(18), limits(provider))) == 1
    assert len(plan_calls(ADDRESSES[: limit + 1], at(8), at(18), limits(provider))) == 2


def test_batch_limits_are_the_documented_provider_limits() -> None:
    assert {p: limits(p).max_addresses for p in Provider} == {
        Provider.GOOGLE: 50,
        Provider.GRAPH: 20,
        Provider.EWS: 100,
    }
    assert limits(Provider.GRAPH).max_window < timedelta(days=62)
    assert limits(Provider.EWS).max_window <= timedelta(days=42)


def test_given_a_window_longer_than_graph_accepts_then_it_is_cut_into_consecutive_slices() -> None:
    start, end = at(0), at(0) + timedelta(days=90)
    calls = plan_calls(ADDRESSES[:5], start, end, limits(Provider.GRAPH))
    assert len(calls) == 2
    assert calls[0].start == start and calls[-1].end == end
    assert calls[0].end == calls[1].start
    assert all(call.end - call.start < timedelta(days=62) for call in calls)


def test_given_45_days_on_ews_and_150_mailboxes_then_two_slices_of_two_batches() -> None:
    calls = plan_calls(ADDRESSES[:150], at(0), at(0) + timedelta(days=45), limits(Provider.EWS))
    assert len(calls) == 4
    assert all(call.end - call.start <= timedelta(days=42) for call in calls)


def test_slices_cover_the_window_without_gaps() -> None:
    parts = slices(at(0), at(0) + timedelta(days=10, hours=3), timedelta(days=3))
    assert parts[0][0] == at(0) and parts[-1][1] == at(0) + timedelta(days=10, hours=3)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))


def test_batches_refuse_a_size_below_one() -> None:
    with pytest.raises(ValueError):
        batches(ADDRESSES, 0)
