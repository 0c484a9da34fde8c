"""Which pairs a change event concerns, read from the store; and pausing a pair.

A change event names one calendar ref. Every pair whose Google or Microsoft calendar is that
ref is a candidate; only *active* pairs are ever touched (pending, paused, error and removing
pairs are left alone and the hint is acknowledged).

A burst of hints asks for the same calendars over and over (every write of ours brings its echo
hint), so answers are kept for `ttl` seconds (1 s): a pause, resume or removal made elsewhere
(the CLI, another replica) is seen within that time; one made here (the breaker) at once.
`last_sync_at` is written at most every `sync_record_interval` seconds per pair, for the same
reason: it is for people reading `calbridge pairs list`, not for the engine.

The same read says how many event failures a pair has and its last error, so a pass of a
healthy pair costs no extra statement: only a pair that has some clears them (`failure_log`,
`note_error`). A pair's health changed here (`fail`, `note_error`, a failure recorded) is seen
at once by this process (`forget`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.model import MeetingProvider
from calbridge.pairs.connection_faults import fail_pair
from calbridge.pairs.health import note_last_error
from calbridge.pairs.policy import ConflictPolicy, Detail, Direction, MeetingLinks, Policy, Side
from calbridge.pairs.states import PairAction, PairState
from calbridge.pairs.transitions import transition
from calbridge.providers.base import CalendarAddress
from calbridge.providers.registry import known_profile
from calbridge.store.tables import calendars, event_failures, pairs
from calbridge.translate.meetings import DEFAULT_KEYWORDS
from calbridge.translate.stamps import pairing_key
from processor.sync.failure_log import StoredFailureLog

__all__ = ["ACTIVE", "PAUSED", "CalendarRoute", "PairDirectory", "PairRoute"]

ACTIVE = PairState.ACTIVE.value
PAUSED = PairState.PAUSED.value


@dataclass(frozen=True, slots=True)
class CalendarRoute:
    ref: str
    connection_id: str
    provider: str
    owner: str
    calendar: str


@dataclass(frozen=True, slots=True)
class PairRoute:
    id: str
    state: str
    policy: Policy
    google: CalendarRoute
    microsoft: CalendarRoute
    failures: int = 0  # event failures recorded on the pair (as of the read)
    last_error: str | None = None

    @property
    def active(self) -> bool:
        return self.state == ACTIVE


class PairDirectory:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = 1.0,
        sync_record_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        meeting_keywords: Mapping[str, MeetingProvider] = DEFAULT_KEYWORDS,
    ) -> None:
        self._keywords = tuple(meeting_keywords.items())
        self._engine = engine
        self._ttl = ttl
        self._sync_record_interval = sync_record_interval
        self._clock = clock
        self._cached: dict[str, tuple[float, list[PairRoute]]] = {}  # ref -> (read at, pairs)
        self._recorded: dict[str, float] = {}  # pair id -> when last_sync_at was last written

    async def pairs_of(self, calendar_ref: str) -> list[PairRoute]:
        """Every pair (in any state) with `calendar_ref` on either side, by pair id."""
        now = self._clock()
        cached = self._cached.get(calendar_ref)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        found = await self._read(calendar_ref)
        if len(self._cached) > 10_000:  # bounded: drop what has expired
            self._cached = {ref: entry for ref, entry in self._cached.items() if now - entry[0] < self._ttl}
        self._cached[calendar_ref] = (now, found)
        return found

    def forget(self) -> None:
        """Read every pair afresh on the next hint."""
        self._cached.clear()

    async def _read(self, calendar_ref: str) -> list[PairRoute]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_PAIRS_OF, {"calendar": calendar_ref})).mappings().all()
        return [
            PairRoute(
                id=row["id"],
                state=row["state"],
                policy=Policy(
                    row["id"],
                    Direction(row["direction"]),
                    Detail(row["detail"]),
                    ConflictPolicy(row["conflict_policy"]),
                    pairing=_pairing(row),
                    mailing_sides=_mailing_sides(row),
                    meeting_links=self._meeting_links(row) if row["meeting_links"] else None,
                    working_locations=bool(row["working_locations"]),
                ),
                google=_calendar(row, "g"),
                microsoft=_calendar(row, "m"),
                failures=int(row["failures"] or 0),
                last_error=row["last_error"],
            )
            for row in rows
        ]

    def _meeting_links(self, row: sa.RowMapping) -> MeetingLinks:
        """What the pair's two providers can do with a keyword (their profiles say)."""
        sides = {
            Side.GOOGLE: known_profile(row["g_provider"]),
            Side.MICROSOFT: known_profile(row["m_provider"]),
        }
        return MeetingLinks(
            keywords=self._keywords,
            hosts=tuple(
                (side, made) for side, prof in sides.items() if prof for made in sorted(prof.meeting_hosts)
            ),
            silent=frozenset(side for side, prof in sides.items() if prof and prof.silent_organizer_updates),
            owners=((Side.GOOGLE, str(row["g_owner"])), (Side.MICROSOFT, str(row["m_owner"]))),
        )

    async def pause(self, pair_id: str, reason: str) -> None:
        """Set an active pair to paused with the reason (`calbridge pairs resume` undoes it)."""
        await transition(self._engine, pair_id, PairAction.PAUSE, reason=reason, error=reason)
        self.forget()

    async def fail(self, pair_id: str, reason: str) -> bool:
        """Set an active pair to `error` with the reason (access refused, credential refused, a
        calendar gone, its connection cannot be opened); False if it had moved on meanwhile. It
        comes back once the cause is fixed (the renewer's checks, or `pairs resume`)."""
        async with self._engine.begin() as conn:
            moved = await fail_pair(conn, pair_id, reason)
        self.forget()
        return moved

    async def note_error(self, pair_id: str, error: str | None) -> None:
        """Set or (None) clear an active pair's last error; its state stays."""
        await note_last_error(self._engine, pair_id, error)
        self.forget()

    def failure_log(self, pair: PairRoute) -> StoredFailureLog:
        """Where a pass of `pair` leaves the events it could not copy."""
        return StoredFailureLog(self._engine, known_failures=pair.failures > 0)

    async def record_sync(self, pair_id: str) -> None:
        """A pass of the pair completed now (written at most every `sync_record_interval`)."""
        now = self._clock()
        last = self._recorded.get(pair_id)
        if last is not None and now - last < self._sync_record_interval:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_RECORD_SYNC, {"pair": pair_id, "last_sync_at": datetime.now(UTC)})
        self._recorded[pair_id] = now


def _pairs_of_query() -> sa.Select[Any]:
    google = calendars.alias("g")
    microsoft = calendars.alias("m")
    calendar: sa.BindParameter[str] = sa.bindparam("calendar")
    failures = (
        sa.select(sa.func.count())
        .where(event_failures.c.pair_id == pairs.c.id)
        .correlate(pairs)
        .scalar_subquery()
        .label("failures")
    )
    return (
        sa.select(
            pairs.c.id,
            pairs.c.state,
            pairs.c.direction,
            pairs.c.detail,
            pairs.c.conflict_policy,
            pairs.c.meeting_links,
            pairs.c.working_locations,
            pairs.c.last_error,
            failures,
            *(column.label(f"g_{column.name}") for column in google.c),
            *(column.label(f"m_{column.name}") for column in microsoft.c),
        )
        .join(google, google.c.id == pairs.c.google_calendar_id)
        .join(microsoft, microsoft.c.id == pairs.c.microsoft_calendar_id)
        .where(sa.or_(pairs.c.google_calendar_id == calendar, pairs.c.microsoft_calendar_id == calendar))
        .order_by(pairs.c.id)
    )


# Built once: constructing the aliased join cost more CPU per hint than running it.
_PAIRS_OF = _pairs_of_query()
_RECORD_SYNC = sa.update(pairs).where(pairs.c.id == sa.bindparam("pair"))


def _pairing(row: sa.RowMapping) -> str:
    """The pairing key stamped on the pair's mirrors (the same for a pair added again)."""
    return pairing_key(
        CalendarAddress(row["g_owner"], row["g_calendar"]), CalendarAddress(row["m_owner"], row["m_calendar"])
    )


def _mailing_sides(row: sa.RowMapping) -> frozenset[Side]:
    """The pair's sides whose provider mails attendees on every write to a meeting (its profile)."""
    found = set()
    for side, prefix in ((Side.GOOGLE, "g"), (Side.MICROSOFT, "m")):
        profile = known_profile(str(row[f"{prefix}_provider"]))
        if profile is not None and not profile.silent_organizer_updates:
            found.add(side)
    return frozenset(found)


def _calendar(row: sa.RowMapping, prefix: str) -> CalendarRoute:
    return CalendarRoute(
        ref=row[f"{prefix}_id"],
        connection_id=row[f"{prefix}_connection_id"],
        provider=row[f"{prefix}_provider"],
        owner=row[f"{prefix}_owner"],
        calendar=row[f"{prefix}_calendar"],
    )
