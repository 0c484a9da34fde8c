"""Play the scenario: act as a person, then watch the other side until the change shows.

For each step the runner asks the acting calendar's `Participant` to make the change, then polls the
observed calendar (bounded by `Timing.timeout`) until the step's expectation is met, and records
the latency from the start of the act to the first poll that saw it. A step whose calendars or
capabilities this build lacks is skipped with the reason; a step on an event whose earlier step
did not arrive is skipped too (it could only fail for the same reason).

Clock and sleep are injected, so the tests play steps against fakes in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from calbridge_app.demo.scenario import CALENDARS, Activity, CreateEvent, ListMeetings, LookUp, Shown, Step

__all__ = [
    "Handles",
    "Listener",
    "Participant",
    "StepResult",
    "StepStatus",
    "Summary",
    "Timing",
    "counterpart",
    "percentile",
    "play",
    "summarize",
]


class Participant(Protocol):
    """Someone at one calendar: makes changes like a person would, and reads what is there."""

    async def act(self, action: Activity, handles: Handles, base: datetime) -> str | None:
        """Make the change; return the id of an event it created on this calendar."""
        ...

    async def look(self) -> list[Shown]: ...


class Listener(Protocol):
    def started(self, number: int, step: Step) -> None: ...

    def finished(self, result: StepResult) -> None: ...


class StepStatus(StrEnum):
    ARRIVED = "arrived"
    MISSING = "missing"  # acted, never seen on the other side in time
    FAILED = "failed"  # the act itself failed
    SKIPPED = "skipped"  # not attempted; the detail says why


@dataclass(frozen=True, slots=True)
class StepResult:
    number: int
    step: Step
    status: StepStatus
    latency: float | None = None  # seconds from the act to the observation
    detail: str = ""

    @property
    def attempted(self) -> bool:
        return self.status is not StepStatus.SKIPPED


@dataclass(frozen=True, slots=True)
class Timing:
    timeout: float = 20.0  # how long a change may take to show on the other side
    poll: float = 0.01  # the latency shown is at most this much late


@dataclass
class Handles:
    """Which event each scenario key is, on each calendar: the origin (where it was created) and
    every counterpart seen so far."""

    origins: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (calendar, id)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, calendar) -> id

    def created(self, key: str, calendar: str, event_id: str) -> None:
        self.origins[key] = (calendar, event_id)
        self.ids[(key, calendar)] = event_id

    def id_on(self, key: str, calendar: str) -> str:
        """The event's id on that calendar; KeyError when it was never seen there."""
        return self.ids[(key, calendar)]


def counterpart(key: str | None, calendar: str, seen: Sequence[Shown], handles: Handles) -> Shown | None:
    """The step's event among what a calendar shows: by the id already known there, else by the
    stamp naming its origin (a mirror calbridge wrote), else the origin itself."""
    if key is None:
        return None
    known = handles.ids.get((key, calendar))
    origin = handles.origins.get(key)
    for event in seen:
        if known is not None and event.id == known:
            return event
    if origin is not None:
        for event in seen:
            if event.source == origin[1] or event.id == origin[1]:
                return event
    return None


async def play(
    steps: Sequence[Step],
    people: Mapping[str, Participant],
    *,
    base: datetime,
    unavailable: Mapping[str, str],
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    listener: Listener,
    timing: Timing = Timing(),
) -> list[StepResult]:
    """Play every step in order; `unavailable` maps a calendar or capability name to why it is
    missing from this run."""
    handles = Handles()
    broken: dict[str, StepResult] = {}  # key -> the step whose event did not arrive
    results: list[StepResult] = []
    for number, step in enumerate(steps, start=1):
        listener.started(number, step)
        result = await _play_one(
            number, step, people, handles, broken, base, unavailable, clock, sleep, timing
        )
        if result.status is not StepStatus.ARRIVED and step.action.key is not None:
            broken.setdefault(step.action.key, result)
        results.append(result)
        listener.finished(result)
    return results


async def _play_one(
    number: int,
    step: Step,
    people: Mapping[str, Participant],
    handles: Handles,
    broken: Mapping[str, StepResult],
    base: datetime,
    unavailable: Mapping[str, str],
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    timing: Timing,
) -> StepResult:
    why = next(
        (
            unavailable[name]
            for name in (step.acts_on, step.observe, *sorted(step.needs))
            if name in unavailable
        ),
        None,
    )
    if why is not None:
        return StepResult(number, step, StepStatus.SKIPPED, detail=why)
    key = step.action.key
    relies = [k for k in step.after if k in broken]
    if key is not None and key in broken and not isinstance(step.action, CreateEvent):
        relies.insert(0, key)
    if relies:
        earlier = broken[relies[0]]
        what = "was skipped" if earlier.status is StepStatus.SKIPPED else "did not arrive"
        detail = f"{'its' if relies[0] == key else 'the'} event of step {earlier.number} {what}"
        return StepResult(number, step, StepStatus.SKIPPED, detail=detail)
    actor, observer = people[step.acts_on], people[step.observe]
    started = clock()
    try:
        created = await actor.act(step.action, handles, base)
    except Exception as exc:  # whatever went wrong, the reader gets it in one line
        return StepResult(
            number, step, StepStatus.FAILED, detail=f"the change could not be made: {_plain(exc)}"
        )
    if created is not None and key is not None:
        handles.created(key, step.acts_on, created)
    deadline = started + timing.timeout
    while True:
        try:
            seen = await observer.look()
        except Exception as exc:
            seen, found = [], None
            last_error = _plain(exc)
        else:
            last_error = ""
            found = counterpart(key, step.observe, seen, handles)
            if step.expect.met(found, seen, base):
                if found is not None and key is not None:
                    handles.ids[(key, step.observe)] = found.id
                return StepResult(number, step, StepStatus.ARRIVED, latency=clock() - started)
        if clock() >= deadline:
            where = people_label(step.observe)
            detail = f"not seen in {where} within {timing.timeout:g} s (expected: {step.expect.says})"
            if last_error:
                detail += f"; reading it failed: {last_error}"
            return StepResult(number, step, StepStatus.MISSING, detail=detail)
        await sleep(timing.poll)


def people_label(calendar: str) -> str:
    for ref in CALENDARS:
        if ref.name == calendar:
            return ref.shown
    return calendar


def _plain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:200] if text else exc.__class__.__name__


# --- the verdict


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    arrived: int
    missing: int
    failed: int
    skipped: int
    p50: float | None
    p99: float | None
    duplicates: int
    invitations: int
    skipped_reasons: tuple[str, ...] = ()
    not_arrived: tuple[int, ...] = ()  # numbers of the attempted steps that did not arrive

    @property
    def ok(self) -> bool:
        """Every attempted step arrived, and nothing was duplicated or mailed."""
        return self.missing == 0 and self.failed == 0 and self.duplicates == 0 and self.invitations == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def summarize(results: Sequence[StepResult], *, duplicates: int, invitations: int) -> Summary:
    # Latency percentiles are over synced changes; a free/busy lookup's time is a different thing.
    synced = [
        r.latency
        for r in results
        if r.status is StepStatus.ARRIVED
        and r.latency is not None
        and not isinstance(r.step.action, LookUp | ListMeetings)
    ]
    count = {status: sum(1 for r in results if r.status is status) for status in StepStatus}
    reasons = tuple(dict.fromkeys(r.detail for r in results if r.status is StepStatus.SKIPPED))
    return Summary(
        arrived=count[StepStatus.ARRIVED],
        missing=count[StepStatus.MISSING],
        failed=count[StepStatus.FAILED],
        skipped=count[StepStatus.SKIPPED],
        p50=percentile(synced, 50),
        p99=percentile(synced, 99),
        duplicates=duplicates,
        invitations=invitations,
        skipped_reasons=reasons,
        not_arrived=tuple(r.number for r in results if r.status in (StepStatus.MISSING, StepStatus.FAILED)),
    )
