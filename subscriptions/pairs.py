"""Adding, activating, pausing, resuming, resyncing and removing pairs.

Activation checks access on both sides first, through an injected `AccessChecker` (the provider
adapters' `check_access`). A pair that fails is stored in `error` with a reason a person can act
on and is never processed. A pair that passes becomes `active`, and a baseline is requested: one
`ChangeEvent(kind=RESYNC, reason="baseline")` per source calendar of its direction, which the
processor answers with an idempotent full sync. Subscribing is the renewer's job: it creates
subscriptions for every active pair's calendars, so nothing here talks to a provider's
subscription API.

Removal marks the pair `removing` (and records `delete_mirrors`); nothing processes it after
that. The renewer finishes: it stops the subscriptions of calendars no live pair still uses,
asks the processor to delete the mirrors when `delete_mirrors` is set, then calls
`finish_removal`, which deletes the pair, its links, and calendars nothing uses any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, Provider
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarAddress
from calbridge.store.connection_records import new_id
from calbridge.store.tables import calendars, cursors, links, pairs, subscriptions
from subscriptions.access import AccessChecker, check_with_retries, explain_access_failure
from subscriptions.records import PairRecord, fetch_pair, fetch_pairs
from subscriptions.spec import CalendarSpec, PairSpec, Side
from subscriptions.states import Action, InvalidTransition, PairState, allowed_from, next_state

__all__ = [
    "AddOutcome",
    "AddResult",
    "HintPublisher",
    "NoConnection",
    "PairBusy",
    "PairNotActive",
    "activate_pair",
    "activate_pairs",
    "add_pair",
    "add_pairs",
    "choose_connection",
    "finish_removal",
    "pause_pair",
    "register_pair",
    "register_pairs",
    "remove_pair",
    "request_resync",
    "resume_pair",
]


def _log() -> Any:
    # Looked up per use: a cached module-level logger would keep the stream of whichever
    # configuration came first (in-process CLI runs reconfigure it).
    return get_logger(__name__)


BASELINE = "baseline"
RESYNC_REASON = "operator"


class HintPublisher(Protocol):
    """What pairs need of the Bus: publish with confirms (calbridge.bus.base.Bus satisfies it)."""

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None: ...


class NoConnection(CalbridgeError):
    """No connection, or more than one, could serve this side of a pair."""


class PairNotActive(CalbridgeError):
    """The action needs an active pair."""


class PairBusy(CalbridgeError):
    """The pair is being removed; it cannot be added or changed until that finishes."""


class Registered(StrEnum):
    NEW = "new"
    SAME = "same"
    CHANGED = "changed"
    BUSY = "busy"  # being removed: left alone


class AddOutcome(StrEnum):
    ADDED = "added"  # new pair, active
    ACTIVATED = "activated"  # existing pending/error pair, now active
    UPDATED = "updated"  # existing pair, direction or detail changed
    UNCHANGED = "unchanged"
    FAILED = "failed"  # stored in error state (reason in `error`)


@dataclass(frozen=True, slots=True)
class AddResult:
    pair: PairRecord
    outcome: AddOutcome
    error: str | None = None


# --- choosing a connection (pure)


def choose_connection(candidates: Sequence[Connection], provider: Provider, name: str | None) -> Connection:
    """The named connection of this provider, or the only one; NoConnection says what to do."""
    mine = [c for c in candidates if c.provider == provider]
    if name is not None:
        for candidate in mine:
            if name in (candidate.name, candidate.id):
                return candidate
        known = ", ".join(c.name for c in mine) or "none"
        raise NoConnection(f"no {provider} connection named {name!r} (known: {known})")
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise NoConnection(f"no {provider} connection; add one with `calbridge connections add {provider}`")
    flag = "--google-connection" if provider is Provider.GOOGLE else "--microsoft-connection"
    names = ", ".join(c.name for c in mine)
    raise NoConnection(f"{len(mine)} {provider} connections exist ({names}); choose one with {flag} NAME")


# --- the store


CalendarKey = tuple[str, str, str]  # connection id, owner, provider calendar id


async def _ensure_calendars(
    conn: AsyncConnection, wanted: Mapping[CalendarKey, Provider]
) -> dict[CalendarKey, str]:
    """The calendar ref of each (connection, owner, calendar), creating the missing rows."""

    async def existing() -> dict[CalendarKey, str]:
        found: dict[CalendarKey, str] = {}
        owners = sorted({owner for _, owner, _ in wanted})
        for start in range(0, len(owners), 500):  # stay far below any engine's parameter limit
            rows = await conn.execute(
                sa.select(
                    calendars.c.id, calendars.c.connection_id, calendars.c.owner, calendars.c.calendar
                ).where(calendars.c.owner.in_(owners[start : start + 500]))
            )
            for row in rows:
                key = (row.connection_id, row.owner, row.calendar)
                if key in wanted:
                    found[key] = row.id
        return found

    refs = await existing()
    missing = [key for key in wanted if key not in refs]
    if missing:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        rows = [
            {
                "id": new_id(),
                "connection_id": c,
                "provider": str(wanted[(c, o, k)]),
                "owner": o,
                "calendar": k,
            }
            for c, o, k in missing
        ]
        insert = dialect.insert(calendars).on_conflict_do_nothing(
            index_elements=["connection_id", "owner", "calendar"]
        )
        await conn.execute(insert, rows)
        refs = await existing()
    return refs


async def register_pairs(
    conn: AsyncConnection, items: Sequence[tuple[PairSpec, Connection, Connection]]
) -> list[tuple[str, Registered]]:
    """Store pairs (pending when new), a few statements for the whole batch. The same pair again
    changes nothing; another direction or detail updates it; a pair being removed is left alone.
    Returns each pair's id and what happened, in order."""
    wanted: dict[CalendarKey, Provider] = {}
    for spec, google, microsoft in items:
        wanted[(google.id, spec.google.owner, spec.google.calendar)] = Provider.GOOGLE
        wanted[(microsoft.id, spec.microsoft.owner, spec.microsoft.calendar)] = Provider(microsoft.provider)
    refs = await _ensure_calendars(conn, wanted)
    keyed = [
        (
            spec,
            refs[(google.id, spec.google.owner, spec.google.calendar)],
            refs[(microsoft.id, spec.microsoft.owner, spec.microsoft.calendar)],
        )
        for spec, google, microsoft in items
    ]

    async def existing() -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        google_refs = sorted({g for _, g, _ in keyed})
        for start in range(0, len(google_refs), 500):
            rows = await conn.execute(
                sa.select(pairs.c.id, pairs.c.google_calendar_id, pairs.c.microsoft_calendar_id)
                .add_columns(pairs.c.state, pairs.c.direction, pairs.c.detail)
                .where(pairs.c.google_calendar_id.in_(google_refs[start : start + 500]))
            )
            for row in rows:
                found[(row.google_calendar_id, row.microsoft_calendar_id)] = row
        return found

    before = await existing()
    new_rows = {
        (g, m): {
            "id": new_id(),
            "google_calendar_id": g,
            "microsoft_calendar_id": m,
            "direction": spec.direction.value,
            "detail": spec.detail.value,
            "state": PairState.PENDING.value,
        }
        for spec, g, m in keyed
        if (g, m) not in before
    }
    if new_rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(pairs).on_conflict_do_nothing(
            index_elements=["google_calendar_id", "microsoft_calendar_id"]
        )
        await conn.execute(insert, list(new_rows.values()))
    after = await existing() if new_rows else before
    out: list[tuple[str, Registered]] = []
    for spec, g, m in keyed:
        row = after[(g, m)]
        if (g, m) in new_rows:
            mine = row.id == new_rows[(g, m)]["id"]  # or a concurrent add got there first
            out.append((str(row.id), Registered.NEW if mine else Registered.SAME))
        elif row.state == PairState.REMOVING:
            out.append((str(row.id), Registered.BUSY))
        elif (row.direction, row.detail) == (spec.direction.value, spec.detail.value):
            out.append((str(row.id), Registered.SAME))
        else:
            await conn.execute(
                pairs.update()
                .where(pairs.c.id == row.id)
                .values(direction=spec.direction.value, detail=spec.detail.value)
            )
            out.append((str(row.id), Registered.CHANGED))
    return out


async def register_pair(
    conn: AsyncConnection, spec: PairSpec, google: Connection, microsoft: Connection
) -> tuple[str, Registered]:
    """Store one pair; see `register_pairs`."""
    (result,) = await register_pairs(conn, [(spec, google, microsoft)])
    return result


def baseline_hints(
    pair: PairRecord, reason: str = BASELINE, sides: Sequence[Side] | None = None
) -> list[ChangeEvent]:
    """One RESYNC hint per source calendar of the pair's direction."""
    return [
        ChangeEvent(
            provider=pair.provider(side), calendar=pair.ref(side), kind=ChangeKind.RESYNC, reason=reason
        )
        for side in (sides if sides is not None else pair.sources())
    ]


async def _check_sides(
    pair: PairRecord, connections: Mapping[str, Connection], checker: AccessChecker
) -> list[str]:
    """Reasons the app cannot use either calendar; empty when both are fine."""
    sides = (
        (Side.GOOGLE, pair.google, pair.google_connection_id, "Google"),
        (Side.MICROSOFT, pair.microsoft, pair.microsoft_connection_id, f"Microsoft ({pair.via})"),
    )

    async def check(spec: CalendarSpec, connection_id: str, label: str, side: Side) -> str | None:
        try:
            await check_with_retries(
                checker, connections[connection_id], CalendarAddress(spec.owner, spec.calendar)
            )
        except Exception as exc:  # every failure becomes a stored reason, never a crash of the batch
            _log().debug("pair_access_refused", pair=pair.id, side=side.value, error=exc.__class__.__name__)
            return explain_access_failure(f"{label} calendar {spec}", exc, str(pair.provider(side)))
        return None

    results = await asyncio.gather(*(check(spec, cid, label, side) for side, spec, cid, label in sides))
    return [reason for reason in results if reason]


async def _set_state(
    conn: AsyncConnection,
    pair_id: str,
    action: Action,
    *,
    reason: str | None,
    error: str | None = None,
    **values: object,
) -> bool:
    """Apply a transition if the pair is still in a state that allows it; False if it moved on.
    Every action has one target state, so the guard is a conditional update (no read first)."""
    target = next_state(allowed_from(action)[0], action)
    result = await conn.execute(
        pairs.update()
        .where((pairs.c.id == pair_id) & pairs.c.state.in_([s.value for s in allowed_from(action)]))
        .values(state=target.value, state_reason=reason, last_error=error, **values)
    )
    return result.rowcount == 1


async def _activate_rows(conn: AsyncConnection, pair_ids: Sequence[str]) -> set[str]:
    """Activate these pairs where still pending or in error; the ids that moved."""
    moved: set[str] = set()
    allowed = [state.value for state in allowed_from(Action.ACTIVATE)]
    for start in range(0, len(pair_ids), 500):
        result = await conn.execute(
            pairs.update()
            .where(pairs.c.id.in_(pair_ids[start : start + 500]) & pairs.c.state.in_(allowed))
            .values(state=PairState.ACTIVE.value, state_reason=None, last_error=None)
            .returning(pairs.c.id)
        )
        moved.update(result.scalars())
    return moved


async def _transition(engine: AsyncEngine, pair_id: str, action: Action, **kwargs: Any) -> bool:
    async with engine.begin() as conn:
        return await _set_state(conn, pair_id, action, **kwargs)


async def _record_failures(conn: AsyncConnection, pair: PairRecord, reason: str) -> None:
    # The same failure again changes nothing, so a re-run leaves the row exactly as it was.
    if pair.state is PairState.ERROR and pair.state_reason == reason and pair.last_error == reason:
        return
    await _set_state(conn, pair.id, Action.FAIL, reason=reason, error=reason)


async def activate_pairs(
    engine: AsyncEngine,
    records: Sequence[PairRecord],
    connections: Mapping[str, Connection],
    checker: AccessChecker,
    bus: HintPublisher,
    *,
    concurrency: int = 8,
) -> list[AddResult]:
    """Activate pending or failed pairs: check access (at most `concurrency` pairs at a time), then
    store every outcome in one transaction, then request the baselines of those now active.

    Checks run concurrently; store writes do not (one short transaction for the batch), which
    keeps SQLite free of lock contention and PostgreSQL free of many tiny commits."""
    for pair in records:
        if pair.state not in (PairState.PENDING, PairState.ERROR):
            raise InvalidTransition(pair.state, Action.ACTIVATE)
    limit = asyncio.Semaphore(concurrency)

    async def check(pair: PairRecord) -> list[str]:
        async with limit:
            return await _check_sides(pair, connections, checker)

    failures = await asyncio.gather(*(check(pair) for pair in records))
    activated: list[PairRecord] = []
    results: dict[str, AddResult] = {}
    passed = [pair for pair, failed in zip(records, failures, strict=True) if not failed]
    async with engine.begin() as conn:
        for pair, failed in zip(records, failures, strict=True):
            if failed:
                reason = "; ".join(failed)
                await _record_failures(conn, pair, reason)
                results[pair.id] = AddResult(pair, AddOutcome.FAILED, reason)
        moved = await _activate_rows(conn, [pair.id for pair in passed])
    for pair in passed:
        if pair.id in moved:
            activated.append(pair)
        else:  # someone else moved it on (removed, activated) meanwhile
            results[pair.id] = AddResult(pair, AddOutcome.UNCHANGED)
    if activated:
        try:
            await bus.publish([hint for pair in activated for hint in baseline_hints(pair)])
        except Exception as exc:  # whatever it was, no pair stays active without its baseline
            detail = str(exc) if isinstance(exc, CalbridgeError) else exc.__class__.__name__
            reason = (
                f"access is fine, but the baseline sync could not be requested ({detail}); add the pair again"
            )
            _log().warning("pair_baseline_not_requested", pairs=len(activated), error=exc.__class__.__name__)
            async with engine.begin() as conn:
                await conn.execute(
                    pairs.update()
                    .where(pairs.c.id.in_([p.id for p in activated]))
                    .values(state=PairState.ERROR.value, state_reason=reason, last_error=reason)
                )
            for pair in activated:
                results[pair.id] = AddResult(pair, AddOutcome.FAILED, reason)
        else:
            for pair in activated:
                results[pair.id] = AddResult(pair, AddOutcome.ADDED)
            _log().debug(
                "pairs_activated", pairs=len(activated), hints=sum(len(p.sources()) for p in activated)
            )
    async with engine.connect() as conn:
        fresh = {p.id: p for p in await fetch_pairs(conn, ids=[p.id for p in records])}
    return [
        AddResult(fresh.get(p.id, results[p.id].pair), results[p.id].outcome, results[p.id].error)
        for p in records
    ]


async def activate_pair(
    engine: AsyncEngine,
    pair_id: str,
    connections: Mapping[str, Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """Check both sides, then activate and request the baseline; or store the reason it failed."""
    pair = await _reload(engine, pair_id)
    (result,) = await activate_pairs(engine, [pair], connections, checker, bus)
    return result


async def _reload(engine: AsyncEngine, pair_id: str) -> PairRecord:
    async with engine.connect() as conn:
        return await fetch_pair(conn, pair_id)


@dataclass(frozen=True, slots=True)
class Registration:
    pair_id: str
    registered: Registered


async def register_specs(
    engine: AsyncEngine, specs: Sequence[PairSpec], connections: Sequence[Connection]
) -> list[Registration]:
    """Store many pairs in one transaction (pending when new); see `register_pair`."""
    chosen = [
        (
            choose_connection(connections, Provider.GOOGLE, spec.google_connection),
            choose_connection(connections, spec.microsoft_provider, spec.microsoft_connection),
        )
        for spec in specs
    ]
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                items = [(spec, g, m) for spec, (g, m) in zip(specs, chosen, strict=True)]
                return [Registration(*result) for result in await register_pairs(conn, items)]
        except IntegrityError:
            if attempt == 2:  # a concurrent add of the same calendars won each time
                raise
    raise AssertionError("unreachable")


async def add_pairs(
    engine: AsyncEngine,
    specs: Sequence[PairSpec],
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
    *,
    concurrency: int = 8,
) -> list[AddResult]:
    """Add (or find) pairs and bring them to active; idempotent. See the module docstring."""
    registrations = await register_specs(engine, specs, connections)
    async with engine.connect() as conn:
        records = {p.id: p for p in await fetch_pairs(conn, ids=[r.pair_id for r in registrations])}
    to_activate = [
        records[r.pair_id]
        for r in dict.fromkeys(registrations)
        if records[r.pair_id].state in (PairState.PENDING, PairState.ERROR)
    ]
    activated = {
        result.pair.id: result
        for result in await activate_pairs(
            engine, to_activate, {c.id: c for c in connections}, checker, bus, concurrency=concurrency
        )
    }
    changed = [
        records[r.pair_id]
        for r in registrations
        if r.registered is Registered.CHANGED and records[r.pair_id].state is PairState.ACTIVE
    ]
    if changed:  # a new direction or detail: rewrite the mirrors
        await bus.publish([hint for pair in changed for hint in baseline_hints(pair)])
    results = []
    for registration in registrations:
        pair = records[registration.pair_id]
        result = activated.get(pair.id)
        if result is not None:
            if registration.registered is not Registered.NEW and result.outcome is AddOutcome.ADDED:
                result = AddResult(result.pair, AddOutcome.ACTIVATED)
            results.append(result)
        elif registration.registered is Registered.CHANGED:
            results.append(AddResult(pair, AddOutcome.UPDATED))
        elif registration.registered is Registered.BUSY:
            reason = f"pair {pair.id} is being removed; add it again once the removal has finished"
            results.append(AddResult(pair, AddOutcome.FAILED, reason))
        else:
            results.append(AddResult(pair, AddOutcome.UNCHANGED))
    return results


async def add_pair(
    engine: AsyncEngine,
    spec: PairSpec,
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """Add (or find) one pair and bring it to active; idempotent."""
    (result,) = await add_pairs(engine, [spec], connections, checker, bus)
    return result


async def pause_pair(engine: AsyncEngine, pair_id: str, reason: str = "paused by an operator") -> PairRecord:
    """Stop processing an active pair; hints for it are dropped until it is resumed."""
    pair = await _reload(engine, pair_id)
    next_state(pair.state, Action.PAUSE)
    await _transition(engine, pair_id, Action.PAUSE, reason=reason, error=pair.last_error)
    return await _reload(engine, pair_id)


async def resume_pair(
    engine: AsyncEngine,
    pair_id: str,
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """A paused pair becomes active and catches up (a RESYNC hint per source); a pair in error is
    activated again (access checked, baseline requested)."""
    pair = await _reload(engine, pair_id)
    if pair.state in (PairState.PENDING, PairState.ERROR):
        result = await activate_pair(engine, pair_id, {c.id: c for c in connections}, checker, bus)
        if result.outcome is AddOutcome.ADDED:
            return AddResult(result.pair, AddOutcome.ACTIVATED)
        return result
    next_state(pair.state, Action.RESUME)
    await _transition(engine, pair_id, Action.RESUME, reason=None, error=pair.last_error)
    await bus.publish(baseline_hints(pair, reason="resume"))
    return AddResult(await _reload(engine, pair_id), AddOutcome.ACTIVATED)


async def request_resync(engine: AsyncEngine, pair_id: str, bus: HintPublisher) -> list[ChangeEvent]:
    """Publish a RESYNC hint for each source calendar of an active pair."""
    pair = await _reload(engine, pair_id)
    if pair.state is not PairState.ACTIVE:
        raise PairNotActive(f"pair {pair_id} is {pair.state}; only active pairs are synced")
    hints = baseline_hints(pair, reason=RESYNC_REASON)
    await bus.publish(hints)
    return hints


async def remove_pair(engine: AsyncEngine, pair_id: str, *, delete_mirrors: bool = False) -> PairRecord:
    """Mark the pair `removing`; the renewer finishes the removal (module docstring)."""
    pair = await _reload(engine, pair_id)
    if pair.state is PairState.REMOVING:
        if delete_mirrors and not pair.delete_mirrors:
            async with engine.begin() as conn:
                await conn.execute(pairs.update().where(pairs.c.id == pair_id).values(delete_mirrors=True))
        return await _reload(engine, pair_id)
    reason = "removal requested; mirrors will be deleted" if delete_mirrors else "removal requested"
    await _transition(
        engine, pair_id, Action.REMOVE, reason=reason, error=pair.last_error, delete_mirrors=delete_mirrors
    )
    return await _reload(engine, pair_id)


async def finish_removal(conn: AsyncConnection, pair_id: str) -> list[str]:
    """Delete a `removing` pair, its links, and the calendars (with cursors and stopped
    subscriptions) that no other pair uses. Call after their subscriptions were stopped and, when
    asked, the mirrors deleted. Returns the calendar refs it deleted."""
    row = (await conn.execute(sa.select(pairs).where(pairs.c.id == pair_id))).first()
    if row is None:
        return []
    if row.state != PairState.REMOVING:
        raise InvalidTransition(PairState(row.state), Action.REMOVE)
    await conn.execute(links.delete().where(links.c.pair_id == pair_id))
    await conn.execute(pairs.delete().where(pairs.c.id == pair_id))
    deleted: list[str] = []
    for ref in (row.google_calendar_id, row.microsoft_calendar_id):
        still_used = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(pairs)
                .where((pairs.c.google_calendar_id == ref) | (pairs.c.microsoft_calendar_id == ref))
            )
        ).scalar_one()
        live = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(subscriptions)
                .where((subscriptions.c.calendar_id == ref) & (subscriptions.c.state != "stopped"))
            )
        ).scalar_one()
        if still_used or live:
            continue
        await conn.execute(subscriptions.delete().where(subscriptions.c.calendar_id == ref))
        await conn.execute(cursors.delete().where(cursors.c.calendar_id == ref))
        await conn.execute(calendars.delete().where(calendars.c.id == ref))
        deleted.append(ref)
    return deleted
