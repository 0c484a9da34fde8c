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
        first = (
            event.span.start.astimezone(ZoneInfo(zone)) if isinstance(event.span, Timed) else event.span.start
        )
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


async def test_given_a_monthly_31st_series_then_its_occurrences_arrive_and_shrink_when_shortened() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270801T000000Z"))
    summary = await world.sync()
    assert summary.failed == []
    starts = [e.span.start for e in world.mirrors()]
    assert starts == [
        local(d)
        for d in (
            "2026-12-31T09:00",
            "2027-01-31T09:00",
            "2027-03-31T09:00",
            "2027-05-31T09:00",
            "2027-07-31T09:00",
        )
    ]
    assert all(e.recurrence is None for e in world.mirrors())

    echo = await world.sync(MICROSOFT_HINT)
    assert echo.writes == 0

    world.google.person_edit(
        g1, recurrence=Recurrence(("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20270401T000000Z",))
    )
    await world.sync()
    assert [e.span.start for e in world.mirrors()] == [
        local(d) for d in ("2026-12-31T09:00", "2027-01-31T09:00", "2027-03-31T09:00")
    ]

    world.google.person_delete(g1)
    await world.sync()
    assert world.mirrors() == []


async def test_given_two_month_days_or_two_hours_then_two_native_series_with_the_whole_series_end() -> None:
    world = World()
    world.google.person_create(
        series("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=6", start="2027-01-01T10:00:00", title="pay")
    )
    world.google.person_create(
        series("RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=10", start="2027-01-04T09:00:00", title="meds")
    )
    summary = await world.sync()
    assert summary.failed == []
    pay = [e for e in world.mirrors() if e.title == "pay"]
    meds = [e for e in world.mirrors() if e.title == "meds"]
    assert [(e.span.start, e.recurrence.rules) for e in pay if e.recurrence] == [
        (local("2027-01-01T10:00"), ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20270315T090000Z",)),
        (local("2027-01-15T10:00"), ("RRULE:FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20270315T090000Z",)),
    ]
    assert [e.span.start for e in meds] == [local("2027-01-04T09:00"), local("2027-01-04T17:00")]
    assert (await world.sync(MICROSOFT_HINT)).writes == 0, "the parts' echoes are skipped"


async def test_given_an_extra_rdate_then_the_occurrences_include_it() -> None:
    world = World()
    world.google.person_create(
        series(
            "RRULE:FREQ=WEEKLY;COUNT=3",
            "RDATE;TZID=Europe/Berlin:20270108T140000",
            start="2027-01-05T14:00:00",
        )
    )
    await world.sync()
    assert [e.span.start for e in world.mirrors()] == [
        local(d) for d in ("2027-01-05T14:00", "2027-01-08T14:00", "2027-01-12T14:00", "2027-01-19T14:00")
    ]


async def test_given_a_weekly_series_with_two_exdates_then_the_mirror_cancels_those_occurrences() -> None:
    world = World()
    world.google.person_create(
        series(
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
            "EXDATE;TZID=Europe/Berlin:20270111T083000,20270125T083000",
            start="2027-01-04T08:30:00",
        )
    )
    await world.sync()
    (mirror,) = world.mirrors()
    assert mirror.recurrence is not None
    assert world.microsoft.cancelled == [local("2027-01-11T08:30"), local("2027-01-25T08:30")]


async def test_given_an_open_ended_31st_series_when_time_passes_then_the_horizon_moves_forward() -> None:
    world = World()
    world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31"))
    await world.sync()
    before = [e.span.start for e in world.mirrors()]
    assert before[0] == local("2026-12-31T09:00") and before[-1] <= NOW + timedelta(days=365)

    world.now = NOW + timedelta(days=70)  # nothing changed in Google; a later pass
    await world.sync(MICROSOFT_HINT)
    await world.sync()
    after = [e.span.start for e in world.mirrors()]
    assert after[-1] > before[-1] and after[: len(before)] == before


async def test_given_a_cancelled_occurrence_of_an_expanded_series_then_its_single_event_goes() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"))
    await world.sync()
    assert len(world.mirrors()) == 3
    original = local("2027-01-31T09:00")
    world.google.person_create(
        Event(
            id="",
            span=Timed(original, original + timedelta(minutes=30), "Europe/Berlin"),
            status=EventStatus.CANCELLED,
            instance_of=InstanceOf(g1, original),
        )
    )
    await world.sync()
    assert [e.span.start for e in world.mirrors()] == [local("2026-12-31T09:00"), local("2027-03-31T09:00")]


async def test_given_a_rule_no_fallback_can_hold_then_the_failure_says_why() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MINUTELY", title="ticker"))
    summary = await world.sync()
    (failure,) = summary.failed
    assert failure.event_id == g1 and "more than 1000 occurrences" in failure.reason
    assert world.mirrors() == []


async def test_given_an_expanded_series_edited_to_a_weekly_rule_then_one_native_series_replaces_it() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"))
    await world.sync()
    world.google.person_edit(g1, recurrence=Recurrence(("RRULE:FREQ=WEEKLY;COUNT=3",)))
    await world.sync()
    (mirror,) = world.mirrors()
    assert mirror.recurrence == Recurrence(("RRULE:FREQ=WEEKLY;COUNT=3",))


async def test_given_a_native_series_edited_to_a_31st_rule_then_the_series_mirror_gives_way_to_events() -> (
    None
):
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=WEEKLY;COUNT=3"))
    await world.sync()
    world.google.person_edit(g1, recurrence=Recurrence(("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=2",)))
    await world.sync()
    assert [(e.span.start, e.recurrence) for e in world.mirrors()] == [
        (local("2026-12-31T09:00"), None),
        (local("2027-01-31T09:00"), None),
    ]


async def test_given_a_split_series_when_google_moves_an_occurrence_then_the_part_holding_it_changes() -> (
    None
):
    world = World()
    g1 = world.google.person_create(
        series("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=6", start="2027-01-01T10:00:00", title="pay")
    )
    await world.sync()
    original = local("2027-02-15T10:00")
    moved = local("2027-02-16T10:00")
    world.google.person_create(
        Event(
            id="",
            span=Timed(moved, moved + timedelta(minutes=30), "Europe/Berlin"),
            title="pay",
            instance_of=InstanceOf(g1, original),
        )
    )
    await world.sync()
    parts = {e.span.start: e.id for e in world.mirrors() if e.recurrence is not None}
    (exception,) = [e for e in world.mirrors() if e.instance_of is not None]
    assert exception.instance_of == InstanceOf(parts[local("2027-01-15T10:00")], original)
    assert exception.span.start == moved

    # And an occurrence of a part cancelled in Outlook cancels the Google occurrence of the series
    first = local("2027-02-01T10:00")
    world.microsoft.person_create(
        Event(
            id="",
            span=Timed(first, first + timedelta(minutes=30), "Europe/Berlin"),
            status=EventStatus.CANCELLED,
            instance_of=InstanceOf(parts[local("2027-01-01T10:00")], first),
        )
    )
    await world.sync(MICROSOFT_HINT)
    cancelled = [
        s.event.instance_of
        for s in world.google.events.values()
        if s.deleted and s.event.instance_of is not None
    ]
    assert InstanceOf(g1, first) in cancelled


async def test_given_expanded_and_split_series_when_a_full_read_comes_then_nothing_is_rewritten_or_lost() -> (
    None
):
    world = World()
    world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"))
    world.google.person_create(series("RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=4", start="2027-01-04T09:00:00"))
    await world.sync()
    before = world.mirrors()
    writes = world.microsoft.writes
    world.google.expire_cursors()  # the next read is a full one, as after a resync
    summary = await world.sync()
    assert summary.full and summary.writes == 0
    assert world.microsoft.writes == writes and world.mirrors() == before


async def test_given_an_expanded_series_made_a_single_event_then_one_mirror_replaces_the_events() -> None:
    world = World()
    g1 = world.google.person_create(series("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"))
    await world.sync()
    world.google.person_edit(g1, recurrence=None)
    summary = await world.sync()
    assert summary.failed == []
    (mirror,) = world.mirrors()
    assert mirror.recurrence is None and mirror.span.start == local("2026-12-31T09:00")
