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
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import BusUnavailable, CalbridgeError
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, Provider
from calbridge.providers.base import CalendarAddress
from calbridge.store.connection_records import new_id
from calbridge.store.engine import upsert
from calbridge.store.tables import calendars, cursors, links, pairs, subscriptions
from subscriptions.access import AccessChecker, check_with_retries, explain_access_failure
from subscriptions.records import PairRecord, fetch_pair
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
    "add_pair",
    "choose_connection",
    "finish_removal",
    "pause_pair",
    "register_pair",
    "remove_pair",
    "request_resync",
    "resume_pair",
]

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


async def _ensure_calendar(conn: AsyncConnection, connection: Connection, spec: CalendarSpec) -> str:
    key = (
        (calendars.c.connection_id == connection.id)
        & (calendars.c.owner == spec.owner)
        & (calendars.c.calendar == spec.calendar)
    )
    found = (await conn.execute(sa.select(calendars.c.id).where(key))).scalar_one_or_none()
    if found is not None:
        return str(found)
    values = {
        "id": new_id(),
        "connection_id": connection.id,
        "provider": str(connection.provider),
        "owner": spec.owner,
        "calendar": spec.calendar,
    }
    await upsert(conn, calendars, values, key=("connection_id", "owner", "calendar"), update=[])
    return str((await conn.execute(sa.select(calendars.c.id).where(key))).scalar_one())


async def register_pair(
    conn: AsyncConnection, spec: PairSpec, google: Connection, microsoft: Connection
) -> tuple[str, Registered]:
    """Store the pair (pending when new). The same pair again changes nothing; another direction
    or detail updates it. Returns the pair id and what happened."""
    google_ref = await _ensure_calendar(conn, google, spec.google)
    microsoft_ref = await _ensure_calendar(conn, microsoft, spec.microsoft)
    key = (pairs.c.google_calendar_id == google_ref) & (pairs.c.microsoft_calendar_id == microsoft_ref)
    row = (
        await conn.execute(sa.select(pairs.c.id, pairs.c.state, pairs.c.direction, pairs.c.detail).where(key))
    ).first()
    if row is None:
        pair_id = new_id()
        await upsert(
            conn,
            pairs,
            {
                "id": pair_id,
                "google_calendar_id": google_ref,
                "microsoft_calendar_id": microsoft_ref,
                "direction": spec.direction.value,
                "detail": spec.detail.value,
                "state": PairState.PENDING.value,
            },
            key=("google_calendar_id", "microsoft_calendar_id"),
            update=[],
        )
        inserted = (await conn.execute(sa.select(pairs.c.id).where(key))).scalar_one()
        return str(inserted), Registered.NEW if inserted == pair_id else Registered.SAME
    if row.state == PairState.REMOVING:
        raise PairBusy(f"pair {row.id} is being removed; add it again once the removal has finished")
    if (row.direction, row.detail) == (spec.direction.value, spec.detail.value):
        return str(row.id), Registered.SAME
    await conn.execute(
        pairs.update()
        .where(pairs.c.id == row.id)
        .values(direction=spec.direction.value, detail=spec.detail.value)
    )
    return str(row.id), Registered.CHANGED


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
            return explain_access_failure(f"{label} calendar {spec}", exc, str(pair.provider(side)))
        return None

    results = await asyncio.gather(*(check(spec, cid, label, side) for side, spec, cid, label in sides))
    return [reason for reason in results if reason]


async def _set_state(
    engine: AsyncEngine,
    pair_id: str,
    action: Action,
    *,
    reason: str | None,
    error: str | None = None,
    **values: object,
) -> bool:
    """Apply a transition if the pair is still in a state that allows it; False if it moved on."""
    async with engine.begin() as conn:
        current = (
            await conn.execute(sa.select(pairs.c.state).where(pairs.c.id == pair_id))
        ).scalar_one_or_none()
        if current is None:
            return False
        target = next_state(PairState(current), action)
        result = await conn.execute(
            pairs.update()
            .where((pairs.c.id == pair_id) & pairs.c.state.in_([s.value for s in allowed_from(action)]))
            .values(state=target.value, state_reason=reason, last_error=error, **values)
        )
        return result.rowcount == 1


async def activate_pair(
    engine: AsyncEngine,
    pair_id: str,
    connections: Mapping[str, Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """Check both sides, then activate and request the baseline; or store the reason it failed."""
    async with engine.connect() as conn:
        pair = await fetch_pair(conn, pair_id)
    if pair.state not in (PairState.PENDING, PairState.ERROR):
        raise InvalidTransition(pair.state, Action.ACTIVATE)
    failures = await _check_sides(pair, connections, checker)
    if failures:
        reason = "; ".join(failures)
        await _set_state(engine, pair_id, Action.FAIL, reason=reason, error=reason)
        return AddResult(await _reload(engine, pair_id), AddOutcome.FAILED, reason)
    if not await _set_state(engine, pair_id, Action.ACTIVATE, reason=None):
        return AddResult(await _reload(engine, pair_id), AddOutcome.UNCHANGED)
    try:
        await bus.publish(baseline_hints(pair))
    except (BusUnavailable, ConnectionError, OSError) as exc:
        # Not active without a baseline: keep it out of processing until activation is retried.
        reason = (
            "access is fine, but the baseline sync could not be requested "
            f"({exc.__class__.__name__}); add the pair again"
        )
        async with engine.begin() as conn:
            await conn.execute(
                pairs.update()
                .where(pairs.c.id == pair_id)
                .values(state=PairState.ERROR.value, state_reason=reason, last_error=reason)
            )
        return AddResult(await _reload(engine, pair_id), AddOutcome.FAILED, reason)
    return AddResult(await _reload(engine, pair_id), AddOutcome.ADDED)


async def _reload(engine: AsyncEngine, pair_id: str) -> PairRecord:
    async with engine.connect() as conn:
        return await fetch_pair(conn, pair_id)


async def add_pair(
    engine: AsyncEngine,
    spec: PairSpec,
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
) -> AddResult:
    """Add (or find) the pair and bring it to active; idempotent. See the module docstring."""
    google = choose_connection(connections, Provider.GOOGLE, spec.google_connection)
    microsoft = choose_connection(connections, spec.microsoft_provider, spec.microsoft_connection)
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                pair_id, registered = await register_pair(conn, spec, google, microsoft)
            break
        except IntegrityError:
            if attempt == 2:  # a concurrent add of the same calendars won each time
                raise
    by_id = {c.id: c for c in connections}
    pair = await _reload(engine, pair_id)
    if pair.state in (PairState.PENDING, PairState.ERROR):
        result = await activate_pair(engine, pair_id, by_id, checker, bus)
        if registered is not Registered.NEW and result.outcome is AddOutcome.ADDED:
            return AddResult(result.pair, AddOutcome.ACTIVATED)
        return result
    if registered is Registered.CHANGED:
        if pair.state is PairState.ACTIVE:
            await bus.publish(baseline_hints(pair))  # a new direction or detail: rewrite the mirrors
        return AddResult(pair, AddOutcome.UPDATED)
    return AddResult(pair, AddOutcome.UNCHANGED)


async def pause_pair(engine: AsyncEngine, pair_id: str, reason: str = "paused by an operator") -> PairRecord:
    """Stop processing an active pair; hints for it are dropped until it is resumed."""
    pair = await _reload(engine, pair_id)
    next_state(pair.state, Action.PAUSE)
    await _set_state(engine, pair_id, Action.PAUSE, reason=reason, error=pair.last_error)
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
        return await activate_pair(engine, pair_id, {c.id: c for c in connections}, checker, bus)
    next_state(pair.state, Action.RESUME)
    await _set_state(engine, pair_id, Action.RESUME, reason=None, error=pair.last_error)
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
    await _set_state(
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
