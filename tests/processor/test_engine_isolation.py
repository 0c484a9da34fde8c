"""One event that cannot be copied is left out, recorded, and tried again later; it never stops
its calendar. The engine over honest in-memory calendars; the failure log is a plain list."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

import pytest
from sync_fakes import Clock, FakeCalendar
from test_engine import GOOGLE_HINT, MICROSOFT_HINT, T0, meeting

from calbridge.errors import (
    AccessDenied,
    AlreadyExists,
    CalendarNotFound,
    CredentialRefused,
    PermanentProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.model import InstanceOf, Recurrence
from calbridge.pairs.event_failures import FailedEvent
from calbridge.pairs.policy import Policy, Side
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.translate.errors import UnknownTimeZone, UnsupportedRecurrence
from processor.sync.actions import Outcome
from processor.sync.engine import CalendarSide, PairContext, retry_events, run_pass
from processor.sync.isolation import is_event_fault, is_pair_fault
from processor.sync.memory_links import MemoryLinks

UNSUPPORTED = UnsupportedRecurrence("BYHOUR with two hours")


class ListedFailures:
    """A FailureLog that keeps what it is told, and the cursor as it stood at the time."""

    def __init__(self, links: MemoryLinks) -> None:
        self.links = links
        self.open: dict[tuple[Side, str], FailedEvent] = {}
        self.cursor_when_settled: list[str | None] = []

    async def settle(
        self, pair_id: str, side: Side, failed: Sequence[FailedEvent], handled: Collection[str]
    ) -> None:
        self.cursor_when_settled.append(self.links.cursors.get("calg"))
        for event_id in handled:
            self.open.pop((side, event_id), None)
        for failure in failed:
            self.open[(side, failure.event_id)] = failure


class World:
    def __init__(self, concurrency: int = 1) -> None:
        clock = Clock()
        self.google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled")
        self.microsoft = FakeCalendar(Provider.GRAPH, "m", clock)
        self.links = MemoryLinks()
        self.failures = ListedFailures(self.links)
        self.concurrency = concurrency
        self.pair = PairContext(
            Policy("p1"),
            CalendarSide("calg", CalendarAddress("ann@example.com"), self.google),
            CalendarSide("calm", CalendarAddress("ann@example.com"), self.microsoft),
        )

    async def sync(self, hint=GOOGLE_HINT):  # type: ignore[no-untyped-def]
        return await run_pass(
            self.pair, self.links, hint, concurrency=self.concurrency, failures=self.failures
        )

    def mirrored_titles(self) -> list[str]:
        return sorted(s.event.title for s in self.microsoft.live().values() if s.stamp is not None)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_given_a_series_outlook_refuses_and_ten_events_then_the_ten_arrive_and_the_cursor_moves(
    concurrency: int,
) -> None:
    world = World(concurrency)
    world.microsoft.refused["odd series"] = UNSUPPORTED
    series = world.google.person_create(
        meeting("odd series", recurrence=Recurrence(("RRULE:FREQ=DAILY;BYHOUR=9,17",)))
    )
    for n in range(10):
        world.google.person_create(meeting(f"e{n}", n + 1))

    summary = await world.sync()

    assert world.mirrored_titles() == sorted(f"e{n}" for n in range(10))
    assert world.links.cursors.get("calg") is not None, "the cursor moves past the series"
    (failure,) = summary.failed
    assert (failure.event_id, failure.provider, failure.error) == (series, "graph", "UnsupportedRecurrence")
    assert "BYHOUR" in failure.reason
    assert world.failures.open.keys() == {(Side.GOOGLE, series)}
    assert world.failures.cursor_when_settled == [None], "recorded before the cursor moved"
    # The next pass reads only what changed since: the series is not tried again
    refusals = world.microsoft.refusals
    world.google.person_create(meeting("later", 20))
    await world.sync()
    assert world.microsoft.refusals == refusals
    assert "later" in world.mirrored_titles()


async def test_given_a_left_out_series_then_its_exceptions_are_left_out_with_it() -> None:
    world = World()
    world.microsoft.refused["odd series"] = UNSUPPORTED
    series = world.google.person_create(meeting("odd series", recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))))
    moved = world.google.person_create(
        meeting("moved", 3, instance_of=InstanceOf(series, T0 + timedelta(days=7)))
    )
    summary = await world.sync()
    assert {f.event_id: f.reason for f in summary.failed} == {
        series: "cannot be expressed on graph: recurrence not expressible as a Graph pattern: BYHOUR with "
        "two hours",
        moved: f"its series {series} could not be copied",
    }
    assert world.microsoft.live() == {}
    assert world.links.cursors.get("calg") is not None


async def test_given_a_failed_event_when_it_changes_into_something_acceptable_then_it_is_cleared() -> None:
    world = World()
    world.microsoft.refused["too big"] = PermanentProviderError("graph 413")
    big = world.google.person_create(meeting("too big"))
    await world.sync()
    assert world.failures.open[(Side.GOOGLE, big)].reason == "graph refused it (graph 413)"
    world.google.person_edit(big, title="smaller")
    summary = await world.sync()
    assert summary.failed == [] and world.failures.open == {}
    assert world.mirrored_titles() == ["smaller"]


async def test_given_a_failed_event_when_the_pair_is_resynced_then_it_is_planned_again_and_cleared() -> None:
    world = World()
    world.microsoft.refused["odd series"] = UNSUPPORTED
    series = world.google.person_create(meeting("odd series", recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))))
    world.google.person_create(meeting("fine", 2))
    await world.sync()
    assert world.failures.open.keys() == {(Side.GOOGLE, series)}
    del world.microsoft.refused["odd series"]
    world.links.cursors.pop("calg")  # `pairs resync`: a full read from scratch
    summary = await world.sync()
    assert summary.full and summary.outcomes[Outcome.CREATED] == 1
    assert world.failures.open == {}
    assert world.mirrored_titles() == ["fine", "odd series"]


async def test_given_failed_events_when_retried_by_id_then_what_works_now_arrives() -> None:
    world = World()
    world.microsoft.refused["odd series"] = UNSUPPORTED
    world.microsoft.refused["still odd"] = UNSUPPORTED
    series = world.google.person_create(meeting("odd series", recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))))
    other = world.google.person_create(meeting("still odd", 2))
    await world.sync()
    cursor = world.links.cursors.get("calg")
    del world.microsoft.refused["odd series"]  # e.g. a fallback for that pattern now exists

    summary = await retry_events(
        world.pair, world.links, Side.GOOGLE, [series, other], failures=world.failures
    )

    assert summary.outcomes[Outcome.CREATED] == 1
    assert [f.event_id for f in summary.failed] == [other]
    assert world.failures.open.keys() == {(Side.GOOGLE, other)}
    assert world.mirrored_titles() == ["odd series"]
    assert world.links.cursors.get("calg") == cursor, "a retry leaves the cursor alone"
    assert len([s for s in world.microsoft.live().values() if s.stamp == MirrorStamp("p1", series)]) == 1


async def test_given_a_failed_event_deleted_meanwhile_when_retried_then_it_is_cleared() -> None:
    world = World()
    world.microsoft.refused["odd"] = UNSUPPORTED
    odd = world.google.person_create(meeting("odd"))
    await world.sync()
    world.google.person_delete(odd)
    summary = await retry_events(world.pair, world.links, Side.GOOGLE, [odd], failures=world.failures)
    assert summary.failed == [] and world.failures.open == {}


@pytest.mark.parametrize(
    "error",
    [
        AccessDenied("graph 403"),
        CalendarNotFound("graph 404"),
        TransientProviderError("graph 503"),
        Throttled(5),
    ],
)
async def test_given_a_failure_about_the_whole_calendar_then_the_pass_still_stops_and_the_cursor_waits(
    error: Exception,
) -> None:
    world = World()
    world.google.person_create(meeting("fine"))
    world.microsoft.write_error = error
    with pytest.raises(type(error)):
        await world.sync()
    assert world.links.cursors.get("calg") is None
    assert world.failures.open == {}


async def test_given_an_outlook_event_google_refuses_then_the_other_outlook_events_still_arrive() -> None:
    world = World()
    world.google.refused["refused"] = AlreadyExists("google event id taken by another event")
    world.microsoft.person_create(meeting("refused"))
    world.microsoft.person_create(meeting("fine", 2))
    summary = await world.sync(MICROSOFT_HINT)
    assert [(f.provider, f.error) for f in summary.failed] == [("google", "AlreadyExists")]
    assert sorted(s.event.title for s in world.google.live().values()) == ["fine"]


@pytest.mark.parametrize(
    ("error", "event", "pair"),
    [
        (UnsupportedRecurrence("x"), True, False),
        (UnknownTimeZone("Mars/Olympus"), True, False),
        (PermanentProviderError("graph 400"), True, False),
        (AlreadyExists("taken"), True, False),
        (AccessDenied("graph 403"), False, True),
        (CredentialRefused("AADSTS7000215"), False, True),
        (CalendarNotFound("graph 404"), False, True),
        (Throttled(3), False, False),
        (TransientProviderError("503"), False, False),
        (RuntimeError("a bug"), False, False),
    ],
)
def test_which_failures_belong_to_one_event_and_which_to_the_pair(
    error: Exception, event: bool, pair: bool
) -> None:
    assert (is_event_fault(error), is_pair_fault(error)) == (event, pair)
