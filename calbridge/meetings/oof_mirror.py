"""Mirroring out of office between a pair's two people: a pure plan, and the pass that applies it.

Outlook's automatic reply (Graph `automaticRepliesSetting`, EWS `GetUserOofSettings`) is one
setting per mailbox; Google's out of office is an `outOfOffice` event on the primary calendar.
For a pair with `mirror_oof`, the person's absence set on one side is written on the other:

- an automatic reply (scheduled, or on until turned off) makes a Google out-of-office event for
  its span, stamped with the pair's id (an open-ended reply: a week from when it was seen), and
  the event follows the reply's changes and goes when the reply is turned off;
- a Google out-of-office event the person made turns on a scheduled automatic reply for its span,
  which follows the event's changes and is turned off when the event is deleted or over, as long
  as the reply still shows what calbridge wrote (a person's own change in Outlook wins).

Exactly once, no echo: what was mirrored is recorded on the pair (`OofRecord`: the side it came
from, its span, the Google event made or followed). A pass that finds both sides as recorded
does nothing; calbridge's own Google event carries the pair's stamp and is never taken for the
person's; an automatic reply calbridge wrote is recognised by the record, so it never comes back
as a new Google event. Both sides set by the person independently: left alone.

Polling: Graph sends no change notification for mailbox settings and EWS none for OOF settings,
so the renewer runs `OofMirror.run` on each of its passes (docs/hybrid.md, "Out of office").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import ConfigurationError, ProviderError
from calbridge.pairs.policy import Side
from calbridge.pairs.states import PairState
from calbridge.store.tables import calendars, connections, pairs

__all__ = [
    "OPEN_END",
    "Absence",
    "AbsencePort",
    "OofMirror",
    "OofRecord",
    "OofStep",
    "StepKind",
    "any_mirrored",
    "plan_oof",
]

OPEN_END = timedelta(days=7)  # a reply on until turned off, as a Google event: this long
SAME_WITHIN = timedelta(minutes=1)  # providers round times; spans this close are the same


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.meetings.oof_mirror")  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Absence:
    """An absence as one side holds it. `start` None: already on (an automatic reply turned on
    without a schedule); `end` None: until turned off. `event_id`: the Google event; `pair`: the
    pair whose stamp the event carries (None: the person's own)."""

    start: datetime | None
    end: datetime | None
    event_id: str | None = None
    pair: str | None = None


class AbsencePort(Protocol):
    """One side's out of office, read and written (each provider's meeting source)."""

    async def absences(self, address: str, now: datetime) -> list[Absence]:
        """Absences now or to come: the automatic reply, or the out-of-office events."""
        ...

    async def put_absence(self, address: str, absence: Absence, pair_id: str) -> str | None:
        """Turn on (or change) the absence; the Google event's id, None for a reply."""
        ...

    async def clear_absence(self, address: str, absence: Absence) -> None:
        """Turn the reply off, or delete the (calbridge-made) event."""
        ...


@dataclass(frozen=True, slots=True)
class OofRecord:
    """What was mirrored: where the person set it, its span, the Google event made or followed."""

    origin: Side
    start: datetime | None
    end: datetime | None
    google_event_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin.value,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "google_event_id": self.google_event_id,
        }

    @classmethod
    def from_json(cls, value: Any) -> OofRecord | None:
        if not isinstance(value, dict) or value.get("origin") not in {s.value for s in Side}:
            return None

        def moment(text: Any) -> datetime | None:
            return datetime.fromisoformat(text) if isinstance(text, str) else None

        return cls(
            Side(value["origin"]),
            moment(value.get("start")),
            moment(value.get("end")),
            value.get("google_event_id"),
        )


class StepKind(StrEnum):
    PUT = "put"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class OofStep:
    side: Side  # where to write
    kind: StepKind
    absence: Absence


def _same(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a.astimezone(UTC) - b.astimezone(UTC)) <= SAME_WITHIN


def _same_span(absence: Absence | None, start: datetime | None, end: datetime | None) -> bool:
    return absence is not None and _same(absence.start, start) and _same(absence.end, end)


def _for_google(absence: Absence, now: datetime, event_id: str | None) -> Absence:
    start = absence.start or now.replace(second=0, microsecond=0)
    return Absence(start, absence.end or start + OPEN_END, event_id)


def plan_oof(
    pair_id: str, google: list[Absence], outlook: list[Absence], record: OofRecord | None, now: datetime
) -> tuple[list[OofStep], OofRecord | None]:
    """The writes that bring the other side in line, and the record to keep after them (its
    `google_event_id` is filled in by the applier when a Google event is made)."""
    mine = next((a for a in google if a.pair == pair_id), None)
    persons = next((a for a in google if a.pair is None), None)
    reply = outlook[0] if outlook else None
    if record is None:
        if reply is not None and persons is None:
            event_id = mine.event_id if mine else None  # an event an earlier pass made: adopted
            wanted = _for_google(reply, now, event_id)
            steps = (
                []
                if _same_span(mine, wanted.start, wanted.end)
                else [OofStep(Side.GOOGLE, StepKind.PUT, wanted)]
            )
            return steps, OofRecord(Side.MICROSOFT, reply.start, reply.end, event_id)
        if persons is not None and reply is None:
            steps = [OofStep(Side.MICROSOFT, StepKind.PUT, Absence(persons.start, persons.end))]
            return steps, OofRecord(Side.GOOGLE, persons.start, persons.end, persons.event_id)
        return [], None
    if record.origin is Side.MICROSOFT:
        if reply is None:
            steps = [OofStep(Side.GOOGLE, StepKind.CLEAR, mine)] if mine is not None else []
            return steps, None
        if _same_span(reply, record.start, record.end):
            return [], record
        event_id = mine.event_id if mine else None
        steps = [OofStep(Side.GOOGLE, StepKind.PUT, _for_google(reply, now, event_id))]
        return steps, OofRecord(Side.MICROSOFT, reply.start, reply.end, event_id)
    followed = next((a for a in google if a.event_id == record.google_event_id and a.pair is None), None)
    ours_still = _same_span(reply, record.start, record.end)
    if followed is None:  # deleted, cancelled or over
        steps = [OofStep(Side.MICROSOFT, StepKind.CLEAR, reply)] if ours_still and reply is not None else []
        return steps, None
    if _same_span(followed, record.start, record.end):
        return [], record
    if ours_still or reply is None:
        steps = [OofStep(Side.MICROSOFT, StepKind.PUT, Absence(followed.start, followed.end))]
        return steps, replace(record, start=followed.start, end=followed.end)
    return [], None  # the person changed the reply in Outlook: theirs wins, nothing follows


@dataclass(frozen=True, slots=True)
class _MirroredPair:
    id: str
    google_connection: str
    google_owner: str
    microsoft_connection: str
    microsoft_owner: str
    record: OofRecord | None


async def _load(engine: AsyncEngine) -> list[_MirroredPair]:
    g, m = calendars.alias("g"), calendars.alias("m")
    gc, mc = connections.alias("gc"), connections.alias("mc")
    query = (
        sa.select(pairs.c.id, pairs.c.oof_mirror, gc.c.name, g.c.owner, mc.c.name, m.c.owner)
        .join(g, pairs.c.google_calendar_id == g.c.id)
        .join(m, pairs.c.microsoft_calendar_id == m.c.id)
        .join(gc, g.c.connection_id == gc.c.id)
        .join(mc, m.c.connection_id == mc.c.id)
        .where(pairs.c.mirror_oof.is_(True), pairs.c.state == PairState.ACTIVE.value)
        .order_by(pairs.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        _MirroredPair(str(r[0]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), OofRecord.from_json(r[1]))
        for r in rows
    ]


async def any_mirrored(engine: AsyncEngine) -> bool:
    """Whether some active pair mirrors out of office (the pass opens no client otherwise)."""
    query = sa.select(pairs.c.id).where(pairs.c.mirror_oof.is_(True), pairs.c.state == PairState.ACTIVE.value)
    async with engine.connect() as conn:
        return (await conn.execute(query.limit(1))).first() is not None


class OofMirror:
    """One pass over the pairs that mirror out of office: read both sides, plan, write, record.
    A pair whose side cannot be read or written is left for the next pass; the others go on."""

    def __init__(
        self,
        engine: AsyncEngine,
        ports: Mapping[str, AbsencePort],  # connection name -> port
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.ports = ports
        self.clock = clock

    async def run(self) -> dict[str, int]:
        counts = {"pairs": 0, "written": 0, "failed": 0}
        for pair in await _load(self.engine):
            counts["pairs"] += 1
            try:
                counts["written"] += await self._mirror(pair)
            except (ProviderError, ConfigurationError, KeyError) as exc:
                counts["failed"] += 1
                _log().warning("oof_mirror_failed", pair=pair.id, error=type(exc).__name__)
        return counts

    async def _mirror(self, pair: _MirroredPair) -> int:
        google, outlook = self.ports[pair.google_connection], self.ports[pair.microsoft_connection]
        now = self.clock()
        steps, record = plan_oof(
            pair.id,
            await google.absences(pair.google_owner, now),
            await outlook.absences(pair.microsoft_owner, now),
            pair.record,
            now,
        )
        for step in steps:
            port, owner = (
                (google, pair.google_owner) if step.side is Side.GOOGLE else (outlook, pair.microsoft_owner)
            )
            if step.kind is StepKind.PUT:
                made = await port.put_absence(owner, step.absence, pair.id)
                if step.side is Side.GOOGLE and record is not None and made:
                    record = replace(record, google_event_id=made)
            else:
                await port.clear_absence(owner, step.absence)
            _log().info("oof_mirrored", pair=pair.id, side=step.side.value, step=step.kind.value)
        if record != pair.record:
            async with self.engine.begin() as conn:
                await conn.execute(
                    pairs.update()
                    .where(pairs.c.id == pair.id)
                    .values(oof_mirror=record.as_json() if record is not None else None)
                )
        return len(steps)
