"""The meeting lookup over fake sources: partial answers, the cache, out-of-office state, and a
person in no pair routed by the directory. No server: the sources are small fakes of the Protocol."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from calbridge.errors import AccessDenied, TransientProviderError
from calbridge.events import Provider
from calbridge.freebusy.cache import ResultCache
from calbridge.freebusy.resolve import Directory
from calbridge.freebusy.types import AddressError, ErrorCode, Window
from calbridge.meetings.calendars import PairSides, SideCalendar
from calbridge.meetings.lookup import MeetingLookup
from calbridge.meetings.oof_mirror import Absence
from calbridge.meetings.types import Oof, PersonMeetings
from calbridge.model import Event, Timed
from calbridge.pairs.policy import Detail
from calbridge.providers.base import CalendarAddress, Fetched

ADA = "ada@example.com"
WINDOW = Window(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class FakeSource:
    def __init__(
        self, provider: Provider, titles: Sequence[str] = (), *, fails: Exception | None = None
    ) -> None:
        self._provider = provider
        self.titles = titles
        self.fails = fails
        self.reads = 0
        self.oof_reads = 0
        self.away = Oof(active=False)

    @property
    def provider(self) -> Provider:
        return self._provider

    async def events(self, calendar: CalendarAddress, start: datetime, end: datetime) -> Sequence[Fetched]:
        self.reads += 1
        if self.fails is not None:
            raise self.fails
        return [
            Fetched(
                Event(
                    f"{self._provider}-{n}",
                    Timed(start.replace(hour=9 + n), start.replace(hour=10 + n)),
                    title=t,
                ),
                "1",
            )
            for n, t in enumerate(self.titles)
        ]

    async def oof(self, address: str, now: datetime) -> Oof:
        self.oof_reads += 1
        return self.away

    async def absences(self, address: str, now: datetime) -> list[Absence]:
        return []

    async def put_absence(self, address: str, absence: Absence, pair_id: str) -> str | None:
        return None

    async def clear_absence(self, address: str, absence: Absence) -> None:
        return None


def lookup(sources: dict[str, FakeSource], *, ttl: float = 0.0, paired: bool = True) -> MeetingLookup:
    sides = [
        PairSides(
            "p1",
            Detail.FULL,
            SideCalendar("g", Provider.GOOGLE, ADA, "primary"),
            SideCalendar("m", Provider.GRAPH, ADA, "primary"),
        )
    ]

    async def pairs() -> list[PairSides]:
        return sides if paired else []

    async def directory() -> Directory:
        return Directory(domains={"example.com": "g"})

    return MeetingLookup(
        sources=sources,  # type: ignore[arg-type]
        directory=directory,
        cache=ResultCache(ttl),
        oof_cache=ResultCache(ttl),
        pairs=pairs,
        now=lambda: NOW,
    )


async def test_given_one_side_failing_then_the_list_is_partial_and_names_it() -> None:
    sources = {
        "g": FakeSource(Provider.GOOGLE, ["Standup"]),
        "m": FakeSource(Provider.GRAPH, fails=TransientProviderError("x")),
    }
    answer = await lookup(sources).answer(ADA, WINDOW)
    assert isinstance(answer, PersonMeetings)
    assert [m.title for m in answer.meetings] == ["Standup"]
    assert answer.unavailable == (Provider.GRAPH,)


async def test_given_every_side_refusing_then_the_person_gets_the_error() -> None:
    refused = AccessDenied("no")
    sources = {
        "g": FakeSource(Provider.GOOGLE, fails=refused),
        "m": FakeSource(Provider.GRAPH, fails=refused),
    }
    answer = await lookup(sources).answer(ADA, WINDOW)
    assert isinstance(answer, AddressError) and answer.code is ErrorCode.NOT_PERMITTED


async def test_given_a_ttl_then_a_second_ask_reads_nothing_and_oof_combines_both_suites() -> None:
    sources = {"g": FakeSource(Provider.GOOGLE, ["Standup"]), "m": FakeSource(Provider.GRAPH, ["Review"])}
    sources["m"].away = Oof(active=True, until=datetime(2026, 11, 27, tzinfo=UTC))
    meetings = lookup(sources, ttl=30.0)
    first = await meetings.answer(ADA, WINDOW)
    second = await meetings.answer(ADA, WINDOW)
    assert first == second and isinstance(first, PersonMeetings)
    assert [m.title for m in first.meetings] == ["Review", "Standup"]  # same hour: by title
    assert first.oof == Oof(active=True, until=datetime(2026, 11, 27, tzinfo=UTC))
    assert (sources["g"].reads, sources["m"].reads, sources["m"].oof_reads) == (1, 1, 1)


async def test_given_a_person_in_no_pair_then_the_directory_routes_their_own_calendar() -> None:
    sources = {"g": FakeSource(Provider.GOOGLE, ["Solo"]), "m": FakeSource(Provider.GRAPH, ["Never read"])}
    answer = await lookup(sources, paired=False).answer(ADA, WINDOW)
    assert isinstance(answer, PersonMeetings) and [m.title for m in answer.meetings] == ["Solo"]
    assert sources["m"].reads == 0
    nobody = await lookup(sources, paired=False).answer("zed@elsewhere.org", WINDOW)
    assert isinstance(nobody, AddressError) and nobody.code is ErrorCode.UNKNOWN_ADDRESS
