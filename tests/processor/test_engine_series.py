"""The engine with a target that holds one pattern per series, like Outlook: series it cannot
hold arrive split or expanded, skipped dates arrive cancelled, and pieces follow changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sync_fakes import Clock, FakeCalendar

from calbridge.events import Provider
from calbridge.model import Event, EventStatus, InstanceOf, Recurrence, Timed
from calbridge.pairs.policy import Policy
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.recurrence import excluded_starts
from processor.sync.engine import CalendarSide, Hint, PairContext, PassSummary, run_pass
from processor.sync.memory_links import MemoryLinks
from processor.sync.series import Horizon, holds_natively

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
GOOGLE_HINT = Hint("calg")
MICROSOFT_HINT = Hint("calm")


class OnePatternCalendar(FakeCalendar):
    """Refuses a series one Outlook pattern cannot hold; keeps EXDATEs out of its series (they
    arrive as cancelled occurrences, counted in `cancelled`)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(Provider.GRAPH, "m", clock)
        self.cancelled: list[Any] = []

    def _check(self, event: Event) -> None:
        if event.recurrence is None or event.instance_of is not None:
            return
        zone = event.span.zone if isinstance(event.span, Timed) else "UTC"
        first = event.span.start.astimezone(ZoneInfo(zone)) if isinstance(event.span, Timed) else event.span.start
        if not holds_natively(event.recurrence.rules, first, zone):
            raise UnsupportedRecurrence("no Outlook pattern")

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        self._check(event)
        if event.instance_of is not None and event.cancelled:
            self.cancelled.append(event.instance_of.original_start)
        return await super().create(calendar, event, stamp)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        self._check(event)
        return await super().update(calendar, event_id, event, stamp)


class World:
    def __init__(self) -> None:
        clock = Clock()
        self.google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled")
        self.microsoft = OnePatternCalendar(clock)
        self.links = MemoryLinks()
        self.now = NOW
        self.pair = PairContext(
            Policy("p1"),
            CalendarSide("calg", CalendarAddress("ann@example.com"), self.google),
            CalendarSide("calm", CalendarAddress("ann@example.com"), self.microsoft),
        )

    async def sync(self, hint: Hint = GOOGLE_HINT) -> PassSummary:
        return await run_pass(
            self.pair, self.links, hint, now=lambda: self.now, horizon=Horizon(ahead=timedelta(days=365))
        )

    def mirrors(self) -> list[Event]:
        return sorted((s.event for s in self.microsoft.live().values()), key=lambda e: e.span.start)


def series(*lines: str, start: str = "2026-12-31T09:00:00", title: str = "odd") -> Event:
    begin = datetime.fromisoformat(start).replace(tzinfo=BERLIN)
    return Event(
        id="",
        span=Timed(begin, begin + timedelta(minutes=30), "Europe/Berlin"),
        title=title,
        recurrence=Recurrence(lines),
    )


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


async def test_given_a_monthly_31st_series_then_it_arrives_as_its_occurrences_and_shrinks_when_shortened() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270801T000000Z"))
    summary = await world.sync()
    assert summary.failed == []
    starts = [e.span.start for e in world.mirrors()]
    assert starts == [local(d) for d in ("2026-12-31T09:00", "2027-01-31T09:00", "2027-03-31T09:00", "2027-05-31T09:00", "2027-07-31T09:00")]
    assert all(e.recurrence is None for e in world.mirrors())

    echo = await world.sync(MICROSOFT_HINT)
    assert echo.writes == 0

    world.google.person_edit(g1, recurrence=Recurrence(("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270401T000000Z",)))
    await world.sync()
    assert [e.span.start for e in world.mirrors()] == [local(d) for d in ("2026-12-31T09:00", "2027-01-31T09:00", "2027-03-31T09:00")]

    world.google.person_delete(g1)
    await world.sync()
    assert world.mirrors() == []
