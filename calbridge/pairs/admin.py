"""Adding, activating, pausing, resuming, resyncing and removing pairs.

Activation checks access on both sides first, through an injected `AccessChecker` (the provider
adapters' `check_access`). A pair that fails is stored in `error` with a reason a person can act
on and is never processed. A pair that passes becomes `active`, and a baseline is requested: one
`ChangeEvent(kind=RESYNC, reason="baseline")` per source calendar of its direction, which the
processor answers with an idempotent full sync. Subscribing is the renewer's job: it creates
subscriptions for every active pair's calendars, so nothing here talks to a provider's
subscription API.

Storing pairs is in `registration.py`, removing them in `removal.py` (re-exported here).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent
from calbridge.logs import get_logger
from calbridge.pairs.access import AccessChecker, check_with_retries, explain_access_failure
from calbridge.pairs.records import PairRecord, fetch_pairs, page_pairs
from calbridge.pairs.registration import (
    NoConnection,
    Registered,
    choose_connection,
    register_pair,
    register_pairs,
    register_specs,
)
from calbridge.pairs.removal import finish_removal, remove_pair
from calbridge.pairs.spec import CalendarSpec, PairSpec, Side
from calbridge.pairs.states import (
    InvalidTransition,
    PairAction,
    PairState,
    allowed_from,
    describe_state,
    next_state,
)
from calbridge.pairs.transitions import reload, set_state, transition
from calbridge.providers.base import CalendarAddress
from calbridge.store.tables import pairs

# The pairs API in one place; registration and removal live in their own modules.
__all__ = [
    "AddOutcome",
    "AddResult",
    "HintPublisher",
    "NoConnection",
    "PairNotActive",
    "activate_pair",
    "activate_pairs",
    "add_pair",
    "add_pairs",
    "baseline_hints",
    "choose_connection",
    "finish_removal",
    "pause_pair",
    "register_pair",
    "register_pairs",
    "remove_pair",
    "request_resync",
    "request_resync_all",
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


class PairNotActive(CalbridgeError):
    """The action needs an active pair."""


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


async def _activate_rows(conn: AsyncConnection, pair_ids: Sequence[str]) -> set[str]:
    """Activate these pairs where still pending or in error; the ids that moved."""
    moved: set[str] = set()
    allowed = [state.value for state in allowed_from(PairAction.ACTIVATE)]
    for start in range(0, len(pair_ids), 500):
        result = await conn.execute(
            pairs.update()
            .where(pairs.c.id.in_(pair_ids[start : start + 500]) & pairs.c.state.in_(allowed))
            .values(state=PairState.ACTIVE.value, state_reason=None, last_error=None)
            .returning(pairs.c.id)
        )
        moved.update(result.scalars())
    return moved


async def _record_failures(conn: AsyncConnection, pair: PairRecord, reason: str) -> None:
    # The same failure again changes nothing, so a re-run leaves the row exactly as it was.
    if pair.state is PairState.ERROR and pair.state_reason == reason and pair.last_error == reason:
        return
    await set_state(conn, pair.id, PairAction.FAIL, reason=reason, error=reason)


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
            raise InvalidTransition(pair.state, PairAction.ACTIVATE)
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
    pair = await reload(engine, pair_id)
    (result,) = await activate_pairs(engine, [pair], connections, checker, bus)
    return result


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
    """Stop processing an active pair; hints for it are dropped until it is resumed. Pausing a
    paused pair changes nothing (the first reason stays)."""
    pair = await reload(engine, pair_id)
    if pair.state is PairState.PAUSED:
        return pair
    next_state(pair.state, PairAction.PAUSE)
    await transition(engine, pair_id, PairAction.PAUSE, reason=reason, error=pair.last_error)
    return await reload(engine, pair_id)


async def resume_pair(
    engine: AsyncEngine,
    pair_id: str,
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """A paused pair becomes active and catches up (a RESYNC hint per source); a pair in error is
    activated again (access checked, baseline requested)."""
    pair = await reload(engine, pair_id)
    if pair.state in (PairState.PENDING, PairState.ERROR):
        result = await activate_pair(engine, pair_id, {c.id: c for c in connections}, checker, bus)
        if result.outcome is AddOutcome.ADDED:
            return AddResult(result.pair, AddOutcome.ACTIVATED)
        return result
    if pair.state is PairState.ACTIVE:
        return AddResult(pair, AddOutcome.UNCHANGED)  # resuming an active pair changes nothing
    next_state(pair.state, PairAction.RESUME)
    await transition(engine, pair_id, PairAction.RESUME, reason=None, error=pair.last_error)
    await bus.publish(baseline_hints(pair, reason="resume"))
    return AddResult(await reload(engine, pair_id), AddOutcome.ACTIVATED)


async def request_resync_all(
    engine: AsyncEngine,
    bus: HintPublisher,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish RESYNC hints for every active pair; the number of pairs. The pairs are read in
    keyset batches and each batch's hints go out in one confirmed publish: one pair at a time
    cost a read and a confirm each (28-58 ms, minutes for 10,000 pairs: bench/scale.py)."""
    done = 0
    async with engine.connect() as conn:
        async for found in page_pairs(conn, states=[PairState.ACTIVE], batch=batch):
            await bus.publish([hint for pair in found for hint in baseline_hints(pair, reason=RESYNC_REASON)])
            done += len(found)
            if progress is not None:
                progress(done)
    return done


async def request_resync(engine: AsyncEngine, pair_id: str, bus: HintPublisher) -> list[ChangeEvent]:
    """Publish a RESYNC hint for each source calendar of an active pair."""
    pair = await reload(engine, pair_id)
    if pair.state is not PairState.ACTIVE:
        raise PairNotActive(
            f"pair {pair_id} is {describe_state(pair.state)}: only active pairs are synced "
            f"(`calbridge pairs resume {pair_id}` activates it again)"
        )
    hints = baseline_hints(pair, reason=RESYNC_REASON)
    await bus.publish(hints)
    return hints
