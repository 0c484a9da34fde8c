"""Given random edits by people on both calendars, flaky writes, duplicated, dropped and late
hints, expired cursors and a Microsoft feed that nets away what was made and deleted since its
cursor, when the pair is left to settle, then both calendars converge: every
event a person made has exactly one mirror with the content the pair's detail calls for, no
mirror is ever mirrored back, nothing is orphaned, and another pass writes nothing.

The calendars are `FakeCalendar`s: honest in-memory implementations of the provider Protocol.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sync_fakes import Clock, FakeCalendar

from calbridge.errors import PairPaused, TransientProviderError
from calbridge.events import Provider
from calbridge.model import AllDay, Event, InstanceOf, Recurrence, ShowAs, Timed
from calbridge.pairs.policy import ConflictPolicy, Detail, Direction, Policy, Side
from calbridge.providers.base import CalendarAddress
from processor.sync.breaker import BreakerLimits
from processor.sync.engine import CalendarSide, Hint, PairContext, run_pass
from processor.sync.memory_links import MemoryLinks
from processor.sync.projection import fingerprint, wants_mirror

SIDES = st.sampled_from([Side.GOOGLE, Side.MICROSOFT])
TITLES = st.sampled_from(["Standup", "1:1", "Lunch", "Review", "Dentist"])
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NO_BREAKER = BreakerLimits(share=1.0, minimum=10_000)  # the breaker has its own tests


def person_event(
    title: str, hour: int, all_day: bool, free: bool, recurrence: Recurrence | None = None
) -> Event:
    if all_day:
        day = BASE.date() + timedelta(days=hour % 5)
        span: Timed | AllDay = AllDay(day, day + timedelta(days=1))
    else:
        start = BASE + timedelta(hours=hour)
        span = Timed(start, start + timedelta(minutes=30), zone="Europe/Paris")
    show_as = ShowAs.FREE if free else ShowAs.BUSY
    return Event(id="", span=span, title=title, show_as=show_as, recurrence=recurrence)


class SyncMachine(RuleBasedStateMachine):
    policy = Policy("p1", Direction.BOTH, Detail.FULL, ConflictPolicy.NEWEST)

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        clock = Clock()
        self.calendars = {
            Side.GOOGLE: FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled"),
            # Microsoft's feed nets "created, then deleted" away, as Exchange's does.
            Side.MICROSOFT: FakeCalendar(Provider.GRAPH, "m", clock, removals="removed", nets=True),
        }
        self.links = MemoryLinks()
        self.pair = PairContext(
            self.policy,
            CalendarSide("calg", CalendarAddress("ann@example.com"), self.calendars[Side.GOOGLE]),
            CalendarSide("calm", CalendarAddress("ann@example.com"), self.calendars[Side.MICROSOFT]),
        )

    def teardown(self) -> None:
        self.loop.close()

    # --- people

    @rule(side=SIDES, title=TITLES, hour=st.integers(0, 40), all_day=st.booleans(), free=st.booleans())
    def person_creates(self, side: Side, title: str, hour: int, all_day: bool, free: bool) -> None:
        self.calendars[side].person_create(person_event(title, hour, all_day, free and hour % 3 == 0))

    @rule(side=SIDES, title=TITLES, hour=st.integers(0, 40))
    def person_creates_series(self, side: Side, title: str, hour: int) -> None:
        weekly = Recurrence(("RRULE:FREQ=WEEKLY;COUNT=5",))
        self.calendars[side].person_create(person_event(title, hour, False, False, weekly))

    @rule(side=SIDES, pick=st.integers(0, 50), week=st.integers(1, 4), shift=st.integers(1, 3))
    def person_moves_an_occurrence(self, side: Side, pick: int, week: int, shift: int) -> None:
        calendar = self.calendars[side]
        series = sorted(eid for eid, s in calendar.live().items() if s.event.recurrence and s.stamp is None)
        if not series:
            return
        master_id = series[pick % len(series)]
        master = calendar.events[master_id].event
        assert isinstance(master.span, Timed)
        original = master.span.start + timedelta(weeks=week)
        taken = {calendar.events[e].event.instance_of for e in calendar.exceptions_of(master_id)}
        if InstanceOf(master_id, original) in taken:
            return
        moved = original + timedelta(hours=shift)
        exception = Event(
            id="",
            span=Timed(moved, moved + timedelta(minutes=30), master.span.zone),
            title=master.title,
            instance_of=InstanceOf(master_id, original),
        )
        calendar.person_create(exception)

    @precondition(lambda self: any(c.live() for c in self.calendars.values()))
    @rule(side=SIDES, pick=st.integers(0, 50), title=TITLES, shift=st.integers(-3, 3))
    def person_edits(self, side: Side, pick: int, title: str, shift: int) -> None:
        calendar = self.calendars[side]
        live = sorted(calendar.live())
        if not live:
            return
        event_id = live[pick % len(live)]
        span = calendar.events[event_id].event.span
        if isinstance(span, Timed) and shift:
            moved = Timed(span.start + timedelta(hours=shift), span.end + timedelta(hours=shift), span.zone)
            calendar.person_edit(event_id, span=moved)
        else:
            calendar.person_edit(event_id, title=title)

    @rule(side=SIDES, pick=st.integers(0, 50), first=TITLES, second=TITLES)
    def people_edit_both_copies(self, side: Side, pick: int, first: str, second: str) -> None:
        """Someone edits a mirror while someone else edits its origin: a conflict to resolve."""
        calendar, other = self.calendars[side], self.calendars[side.other]
        mirrors = sorted(
            eid
            for eid, s in calendar.live().items()
            if s.stamp is not None and s.stamp.source_id in other.live()
        )
        if not mirrors:
            return
        mirror_id = mirrors[pick % len(mirrors)]
        source_id = calendar.events[mirror_id].stamp.source_id  # type: ignore[union-attr]
        calendar.person_edit(mirror_id, title=first + " (mirror side)")
        other.person_edit(source_id, title=second)

    @precondition(lambda self: any(c.live() for c in self.calendars.values()))
    @rule(side=SIDES, pick=st.integers(0, 50))
    def person_deletes(self, side: Side, pick: int) -> None:
        live = sorted(self.calendars[side].live())
        if live:
            self.calendars[side].person_delete(live[pick % len(live)])

    # --- hints, faults and resyncs

    @rule(side=SIDES, fault=st.sampled_from([None, None, "before", "after"]), twice=st.booleans())
    def hint_arrives(self, side: Side, fault: str | None, twice: bool) -> None:
        if fault is not None:
            self.calendars[side.other].faults.append(fault)  # type: ignore[arg-type]
        for _ in range(2 if twice else 1):  # a redelivered hint
            self._sync(side)
        self.calendars[side.other].faults.clear()

    @rule(side=SIDES)
    def cursor_expires(self, side: Side) -> None:
        self.calendars[side].expire_cursors()

    @rule(side=SIDES)
    def cursor_lost(self, side: Side) -> None:
        self.links.cursors.pop(self.pair.calendar(side).ref, None)

    def _sync(self, side: Side, confirm: bool = False) -> int:
        hint = Hint(self.pair.calendar(side).ref)
        try:
            summary = self.loop.run_until_complete(
                run_pass(self.pair, self.links, hint, limits=NO_BREAKER, confirm_deletions=confirm)
            )
        except TransientProviderError:
            return -1  # the message would be retried later
        except PairPaused:
            return -1  # an operator confirms at settle time
        return summary.writes

    # --- what must always hold

    @invariant()
    def no_mirror_is_mirrored_back(self) -> None:
        for side, calendar in self.calendars.items():
            for event_id, stored in calendar.events.items():
                if stored.stamp is None:
                    continue
                assert stored.stamp.pair_id == self.policy.pair_id
                source = self.calendars[side.other].events.get(stored.stamp.source_id)
                assert source is not None, f"{event_id} names a source that never existed"
                assert source.stamp is None, f"{event_id} mirrors a mirror"

    # --- settle and check

    def settle(self) -> None:
        for _ in range(8):
            writes = [self._sync(side, confirm=True) for side in (Side.GOOGLE, Side.MICROSOFT)]
            if writes == [0, 0]:
                break
        self.check_converged()
        before = sum(c.writes for c in self.calendars.values())
        for side in (Side.GOOGLE, Side.MICROSOFT):
            assert self._sync(side) == 0
        assert sum(c.writes for c in self.calendars.values()) == before, "a settled pair wrote again"

    def check_converged(self) -> None:
        detail = self.policy.detail
        for side, calendar in self.calendars.items():
            other = self.calendars[side.other].live()
            for event_id, stored in calendar.live().items():
                if stored.stamp is not None:
                    source = other.get(stored.stamp.source_id)
                    assert source is not None, f"orphan mirror {event_id}"
                    assert wants_mirror(source.event, detail)
                    continue
                mirrors = [s for s in other.values() if s.stamp is not None and s.stamp.source_id == event_id]
                if self.expects_mirror(side, event_id):
                    assert len(mirrors) == 1, f"{event_id} has {len(mirrors)} mirrors"
                    assert fingerprint(mirrors[0].event, detail) == fingerprint(stored.event, detail)
                    self.check_occurrence(side, stored.event, mirrors[0].event)
                else:
                    assert mirrors == []

    def expects_mirror(self, side: Side, event_id: str) -> bool:
        stored = self.calendars[side].live().get(event_id)
        if stored is None or stored.stamp is not None:
            return False
        if not (self.policy.flows_from(side) and wants_mirror(stored.event, self.policy.detail)):
            return False
        series = stored.event.instance_of
        return series is None or self.expects_mirror(side, series.master_id)

    def check_occurrence(self, side: Side, origin: Event, mirror: Event) -> None:
        """An exception sits on the mirror series' occurrence with the same original start."""
        if origin.instance_of is None:
            assert mirror.instance_of is None
            return
        other = self.calendars[side.other].live()
        (mirror_master,) = [
            eid
            for eid, s in other.items()
            if s.stamp is not None and s.stamp.source_id == origin.instance_of.master_id
        ]
        assert mirror.instance_of == InstanceOf(mirror_master, origin.instance_of.original_start)


def machine_test(policy: Policy) -> type[SyncMachine]:
    class Machine(SyncMachine):
        pass

    Machine.policy = policy
    original = Machine.teardown

    def teardown(self: SyncMachine) -> None:
        try:
            self.settle()
        finally:
            original(self)

    Machine.teardown = teardown  # type: ignore[method-assign]
    Machine.TestCase.settings = settings(
        max_examples=60,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    return Machine


TestTwoWayFullNewest = machine_test(Policy("p1", Direction.BOTH, Detail.FULL, ConflictPolicy.NEWEST)).TestCase
TestTwoWayFullGoogleWins = machine_test(
    Policy("p1", Direction.BOTH, Detail.FULL, ConflictPolicy.GOOGLE)
).TestCase
TestOneWayGoogleToMicrosoft = machine_test(
    Policy("p1", Direction.GOOGLE_TO_MICROSOFT, Detail.FULL, ConflictPolicy.NEWEST)
).TestCase
TestOneWayMicrosoftToGoogleBusy = machine_test(
    Policy("p1", Direction.MICROSOFT_TO_GOOGLE, Detail.BUSY, ConflictPolicy.NEWEST)
).TestCase
TestTwoWayBusy = machine_test(Policy("p1", Direction.BOTH, Detail.BUSY, ConflictPolicy.MICROSOFT)).TestCase

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
