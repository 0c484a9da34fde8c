"""The orchestrator: mixed providers in one lookup, failures confined to their own addresses,
timeouts, throttling, batching through the FreeBusySource Protocol."""

from __future__ import annotations

import asyncio
import time

from freebusy_doubles import FakeSource, at, make_lookup, meeting, three_sources, window

from calbridge.errors import AccessDenied, NotFound, PermanentProviderError, Throttled, TransientProviderError
from calbridge.events import Provider
from calbridge.freebusy.types import AddressError, BusyResult, BusyStatus, ErrorCode

MIXED = ["ada@example.com", "grace@contoso.com", "linus@fabrikam.com"]


def busy(outcome: object) -> list[tuple[int, int, BusyStatus]]:
    assert isinstance(outcome, BusyResult), outcome
    return [(b.start.hour, b.end.hour, b.status) for b in outcome.busy]


def error(outcome: object) -> ErrorCode:
    assert isinstance(outcome, AddressError), outcome
    return outcome.code


async def test_given_google_graph_and_ews_addresses_when_looked_up_then_all_answer_in_one_lookup() -> None:
    sources = three_sources()
    answer = await make_lookup(sources).answer(MIXED, window())
    assert list(answer) == MIXED  # request order kept
    assert busy(answer["ada@example.com"]) == [(9, 11, BusyStatus.BUSY)]  # overlaps merged
    assert busy(answer["grace@contoso.com"]) == [(13, 14, BusyStatus.TENTATIVE)]
    assert busy(answer["linus@fabrikam.com"]) == [(8, 18, BusyStatus.OOF)]  # clipped to the window
    assert [len(s.calls) for s in sources.values()] == [1, 1, 1]


async def test_given_one_provider_failing_then_its_addresses_get_errors_and_the_others_answer() -> None:
    sources = three_sources()
    sources["graph-main"].fail_with = [TransientProviderError("503")]
    answer = await make_lookup(sources).answer(MIXED, window())
    assert error(answer["grace@contoso.com"]) is ErrorCode.PROVIDER_FAILED
    assert busy(answer["ada@example.com"]) and busy(answer["linus@fabrikam.com"])


async def test_given_a_source_raising_an_unexpected_error_then_only_its_addresses_fail() -> None:
    sources = three_sources()
    sources["ews-main"].fail_with = [RuntimeError("bug")]
    answer = await make_lookup(sources).answer(MIXED, window())
    assert error(answer["linus@fabrikam.com"]) is ErrorCode.PROVIDER_FAILED
    assert isinstance(answer["ada@example.com"], BusyResult)


async def test_given_a_provider_that_never_answers_then_its_addresses_fail_at_its_timeout() -> None:
    sources = three_sources()
    sources["ews-main"].stall = asyncio.Event()  # never set
    lookup = make_lookup(sources, timeouts={Provider.GOOGLE: 1, Provider.GRAPH: 1, Provider.EWS: 0.05})
    started = time.monotonic()
    answer = await asyncio.wait_for(lookup.answer(MIXED, window()), 2)
    assert time.monotonic() - started < 1
    failure = answer["linus@fabrikam.com"]
    assert isinstance(failure, AddressError) and "did not answer" in failure.detail
    assert isinstance(answer["grace@contoso.com"], BusyResult)


async def test_given_throttling_with_a_short_retry_after_then_the_call_is_retried_once_and_answers() -> None:
    sources = three_sources()
    sources["google-main"].fail_with = [Throttled(0.01)]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    answer = await make_lookup(sources, sleep=sleep).answer(MIXED, window())
    assert waits == [0.01]
    assert busy(answer["ada@example.com"]) == [(9, 11, BusyStatus.BUSY)]
    assert len(sources["google-main"].calls) == 2


async def test_given_throttling_longer_than_the_timeout_then_the_error_says_when_to_retry() -> None:
    sources = three_sources()
    sources["google-main"].fail_with = [Throttled(30)]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    answer = await make_lookup(sources, sleep=sleep).answer(MIXED, window())
    failure = answer["ada@example.com"]
    assert isinstance(failure, AddressError) and failure.retry_after == 30
    assert waits == []  # no point waiting past the deadline
    assert len(sources["google-main"].calls) == 1


async def test_given_throttling_twice_then_there_is_no_second_retry() -> None:
    sources = three_sources()
    sources["google-main"].fail_with = [Throttled(0), Throttled(0)]
    answer = await make_lookup(sources, sleep=lambda s: asyncio.sleep(0)).answer(MIXED, window())
    assert error(answer["ada@example.com"]) is ErrorCode.PROVIDER_FAILED
    assert len(sources["google-main"].calls) == 2


async def test_given_access_denied_then_the_addresses_are_not_permitted() -> None:
    sources = three_sources()
    sources["graph-main"].fail_with = [AccessDenied("403")]
    answer = await make_lookup(sources).answer(MIXED, window())
    assert error(answer["grace@contoso.com"]) is ErrorCode.NOT_PERMITTED


async def test_given_other_whole_call_failures_then_they_map_to_address_errors() -> None:
    sources = three_sources()
    sources["graph-main"].fail_with = [NotFound("caller")]
    sources["ews-main"].fail_with = [PermanentProviderError("400")]
    answer = await make_lookup(sources).answer(MIXED, window())
    assert error(answer["grace@contoso.com"]) is ErrorCode.UNKNOWN_ADDRESS
    assert error(answer["linus@fabrikam.com"]) is ErrorCode.PROVIDER_FAILED


async def test_given_an_address_no_connection_serves_then_it_is_unknown_and_nobody_is_asked() -> None:
    sources = three_sources()
    answer = await make_lookup(sources).answer(["someone@elsewhere.org"], window())
    assert error(answer["someone@elsewhere.org"]) is ErrorCode.UNKNOWN_ADDRESS
    assert all(not s.calls for s in sources.values())


async def test_given_a_domain_mapped_to_a_connection_without_source_then_its_addresses_fail() -> None:
    sources = three_sources()
    del sources["ews-main"]
    answer = await make_lookup(sources).answer(MIXED, window())
    assert error(answer["linus@fabrikam.com"]) is ErrorCode.PROVIDER_FAILED
    assert isinstance(answer["ada@example.com"], BusyResult)


async def test_given_an_address_the_store_knows_then_its_calendar_connection_wins_over_the_domain() -> None:
    sources = three_sources()
    sources["graph-main"].calendars["moved@example.com"] = [meeting(at(15), at(16))]
    lookup = make_lookup(sources, known={"moved@example.com": "graph-main"})
    answer = await lookup.answer(["moved@example.com"], window())
    assert busy(answer["moved@example.com"]) == [(15, 16, BusyStatus.BUSY)]
    assert sources["graph-main"].addresses_asked == ["moved@example.com"]


async def test_given_45_graph_addresses_then_three_concurrent_calls_of_at_most_20() -> None:
    people = [f"p{i}@contoso.com" for i in range(45)]
    source = FakeSource(Provider.GRAPH, {p: [] for p in people})
    answer = await make_lookup({"graph-main": source}).answer(people, window())
    assert sorted(len(call[0]) for call in source.calls) == [5, 20, 20]
    assert all(isinstance(o, BusyResult) for o in answer.values())


async def test_given_a_source_that_skips_an_address_then_that_address_gets_an_error() -> None:
    class Forgetful(FakeSource):
        async def query(self, addresses, start, end):  # type: ignore[no-untyped-def]
            answer = dict(await super().query(addresses, start, end))
            answer.pop(addresses[-1])
            return answer

    source = Forgetful(Provider.GOOGLE, {"a@example.com": [], "b@example.com": []})
    answer = await make_lookup({"google-main": source}).answer(["a@example.com", "b@example.com"], window())
    assert isinstance(answer["a@example.com"], BusyResult)
    assert error(answer["b@example.com"]) is ErrorCode.PROVIDER_FAILED


async def test_given_a_window_in_a_zone_then_sources_are_asked_in_that_zone() -> None:
    from zoneinfo import ZoneInfo

    sources = three_sources()
    berlin = ZoneInfo("Europe/Berlin")
    await make_lookup(sources).answer(["ada@example.com"], window(zone=berlin))
    (_, start, end) = sources["google-main"].calls[0]
    assert start.tzinfo == berlin and end.tzinfo == berlin
    assert start == at(8, zone=berlin)


async def test_given_the_directory_cannot_be_read_then_every_address_gets_an_error_not_an_exception() -> None:
    lookup = make_lookup(three_sources())

    async def broken() -> object:
        raise OSError("store down")

    lookup.directory = broken  # type: ignore[assignment]
    answer = await lookup.answer(MIXED, window())
    assert [error(answer[a]) for a in MIXED] == [ErrorCode.PROVIDER_FAILED] * 3
