"""The scenario runner against fake people and a fake clock: no sandbox, no sleeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from calbridge_app.demo.runner import (
    Handles,
    StepResult,
    StepStatus,
    Timing,
    counterpart,
    percentile,
    play,
    summarize,
)
from calbridge_app.demo.scenario import At, CreateEvent, DeleteEvent, Edit, Shown, Step, gone, shows

BASE = datetime(2030, 1, 7, tzinfo=UTC)  # a Monday


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Calendar:
    """Two fake calendars joined by a fake sync that copies after `delay` seconds of fake time."""

    clock: FakeClock
    name: str
    events: dict[str, Shown] = field(default_factory=dict)
    other: Calendar | None = None
    delay: float = 0.3
    pending: list[tuple[float, str, Shown | None]] = field(default_factory=list)
    made: int = 0

    async def act(self, action: object, handles: Handles, base: datetime) -> str | None:
        assert self.other is not None
        if isinstance(action, CreateEvent):
            self.made += 1
            event_id = f"e{self.made}"
            seen = Shown(event_id, action.title, action.start.resolve(base), action.end.resolve(base))
            self.events[event_id] = seen
            mirror = replace(seen, id=f"m{event_id}", source=event_id, pair="p")
            self.other.pending.append((self.clock.now + self.delay, mirror.id, mirror))
            return event_id
        assert isinstance(action, Edit | DeleteEvent)
        mine = self.events[handles.id_on(action.key, self.name)]
        theirs = next(e for e in self.other.events.values() if e.source == mine.id or mine.source == e.id)
        if isinstance(action, DeleteEvent):
            del self.events[mine.id]
            self.other.pending.append((self.clock.now + self.delay, theirs.id, None))
        else:
            self.events[mine.id] = replace(mine, title=action.title or mine.title)
            self.other.pending.append(
                (self.clock.now + self.delay, theirs.id, replace(theirs, title=action.title or theirs.title))
            )
        return None

    async def look(self) -> list[Shown]:
        for due, event_id, seen in [p for p in self.pending if p[0] <= self.clock.now]:
            self.pending.remove((due, event_id, seen))
            if seen is None:
                self.events.pop(event_id, None)
            else:
                self.events[event_id] = seen
        return list(self.events.values())


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def started(self, number: int, step: Step) -> None:
        self.lines.append(f"start {number}")

    def finished(self, result: StepResult) -> None:
        self.lines.append(f"{result.status} {result.number}")


def _world(delay: float = 0.3) -> tuple[FakeClock, dict[str, Calendar]]:
    clock = FakeClock()
    a, b = Calendar(clock, "a", delay=delay), Calendar(clock, "b", delay=delay)
    a.other, b.other = b, a
    return clock, {"a": a, "b": b}


SCRIPT = (
    Step("Ann", "a", CreateEvent("x", "Review", At(1, 10), At(1, 11)), "b", shows("Review", start=At(1, 10))),
    Step("Ann", "b", Edit("x", title="Review v2"), "a", shows("Review v2")),
    Step("Ann", "a", DeleteEvent("x"), "b", gone()),
)


async def _play(
    steps: Sequence[Step], delay: float, unavailable: dict[str, str] | None = None
) -> tuple[list[StepResult], Recorder]:
    clock, people = _world(delay)
    recorder = Recorder()
    results = await play(
        steps,
        people,
        base=BASE,
        unavailable=unavailable or {},
        clock=clock,
        sleep=clock.sleep,
        listener=recorder,
        timing=Timing(timeout=5, poll=0.05),
    )
    return results, recorder


async def test_given_a_sync_that_carries_changes_when_played_then_each_step_arrives_with_its_latency() -> (
    None
):
    results, recorder = await _play(SCRIPT, delay=0.3)

    assert [r.status for r in results] == [StepStatus.ARRIVED] * 3
    assert all(0.3 <= (r.latency or 0) < 0.4 for r in results)  # polled every 50 ms of fake time
    assert recorder.lines == ["start 1", "arrived 1", "start 2", "arrived 2", "start 3", "arrived 3"]


async def test_given_a_change_that_never_arrives_then_the_step_is_missing_and_its_followers_skipped() -> None:
    results, _ = await _play(SCRIPT, delay=999)

    assert results[0].status is StepStatus.MISSING
    assert "not seen in b within 5 s" in results[0].detail and '"Review"' in results[0].detail
    assert [r.status for r in results[1:]] == [StepStatus.SKIPPED, StepStatus.SKIPPED]
    assert results[1].detail == "its event of step 1 did not arrive"
    summary = summarize(results, duplicates=0, invitations=0)
    assert summary.exit_code == 1 and summary.missing == 1


async def test_given_a_missing_piece_then_its_steps_are_skipped_with_the_reason_and_the_run_passes() -> None:
    results, _ = await _play(SCRIPT, delay=0.3, unavailable={"b": "needs the processor"})

    assert {r.status for r in results} == {StepStatus.SKIPPED}
    assert {r.detail for r in results} == {"needs the processor"}
    assert summarize(results, duplicates=0, invitations=0).exit_code == 0


async def test_given_an_act_that_raises_when_played_then_the_step_failed_with_the_error() -> None:
    class Broken:
        async def act(self, action: object, handles: Handles, base: datetime) -> str | None:
            raise ConnectionRefusedError("control API down")

        async def look(self) -> list[Shown]:
            return []

    clock = FakeClock()
    results = await play(
        SCRIPT[:1],
        {"a": Broken(), "b": Broken()},
        base=BASE,
        unavailable={},
        clock=clock,
        sleep=clock.sleep,
        listener=Recorder(),
    )

    assert results[0].status is StepStatus.FAILED
    assert results[0].detail == "the change could not be made: ConnectionRefusedError: control API down"


def test_duplicates_or_invitations_fail_a_run_in_which_every_step_arrived() -> None:
    arrived = [StepResult(1, SCRIPT[0], StepStatus.ARRIVED, latency=0.2)]

    assert summarize(arrived, duplicates=0, invitations=0).exit_code == 0
    assert summarize(arrived, duplicates=1, invitations=0).exit_code == 1
    assert summarize(arrived, duplicates=0, invitations=2).exit_code == 1


def test_percentiles_are_nearest_rank() -> None:
    values = [0.1 * n for n in range(1, 101)]

    assert percentile(values, 50) == values[49]
    assert percentile(values, 99) == values[98]
    assert percentile([0.4], 99) == 0.4
    assert percentile([], 50) is None


def test_the_counterpart_is_found_by_known_id_then_by_the_stamp_naming_the_origin() -> None:
    handles = Handles()
    handles.created("x", "a", "e1")
    mirror = Shown("m1", "Review", BASE, BASE + timedelta(hours=1), source="e1", pair="p")
    stranger = Shown("z", "Review", BASE, BASE + timedelta(hours=1))

    assert counterpart("x", "b", [stranger, mirror], handles) == mirror
    handles.ids[("x", "b")] = "m1"
    assert counterpart("x", "b", [stranger], handles) is None
    assert counterpart("x", "a", [Shown("e1", "Review", BASE, BASE)], handles) is not None


def test_expectations_compare_times_in_utc_and_all_day_dates() -> None:
    timed = Shown("e", "Review", At(1, 10).resolve(BASE), At(1, 11).resolve(BASE))
    day = Shown("d", "Offsite", At(3).date(BASE), At(4).date(BASE), all_day=True)

    assert shows("Review", start=At(1, 10), end=At(1, 11)).met(timed, [timed], BASE)
    assert not shows("Review", start=At(1, 9)).met(timed, [timed], BASE)
    assert shows("Offsite", start=At(3), end=At(4), all_day=True).met(day, [day], BASE)
    assert not shows("Offsite", start=At(3), all_day=False).met(day, [day], BASE)
    assert gone().met(None, [], BASE) and not gone().met(timed, [timed], BASE)
