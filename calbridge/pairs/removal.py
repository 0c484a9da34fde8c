"""Removing pairs: marked at once, finished by the renewer.

`remove_pair` marks the pair `removing` (and records `delete_mirrors`); nothing processes it after
that. The renewer stops the subscriptions of calendars no live pair still uses, has the mirrors
deleted when `delete_mirrors` is set, then calls `finish_removal`, which deletes the pair, its
links, and the calendars nothing uses any more. `remove_pairs` marks many at once (every pair of
a connection: `pairs remove --connection`), a few hundred to a transaction, with the same
conditional update as one, and without reading each pair back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.pairs.records import PairRecord
from calbridge.pairs.states import InvalidTransition, PairAction, PairState, allowed_from
from calbridge.pairs.transitions import reload, transition
from calbridge.store.tables import calendars, connections, cursors, links, pairs, subscriptions

__all__ = ["finish_removal", "pairs_of_connection", "remove_pair", "remove_pairs"]

BATCH = 500  # pairs marked per transaction (and far below any engine's parameter limit)


async def remove_pair(engine: AsyncEngine, pair_id: str, *, delete_mirrors: bool = False) -> PairRecord:
    """Mark the pair `removing`; the renewer finishes the removal (module docstring)."""
    pair = await reload(engine, pair_id)
    if pair.state is PairState.REMOVING:
        if delete_mirrors and not pair.delete_mirrors:
            async with engine.begin() as conn:
                await conn.execute(pairs.update().where(pairs.c.id == pair_id).values(delete_mirrors=True))
        return await reload(engine, pair_id)
    reason = "removal requested; mirrors will be deleted" if delete_mirrors else "removal requested"
    await transition(
        engine,
        pair_id,
        PairAction.REMOVE,
        reason=reason,
        error=pair.last_error,
        delete_mirrors=delete_mirrors,
    )
    return await reload(engine, pair_id)


async def pairs_of_connection(conn: AsyncConnection, connection: str) -> list[str]:
    """The ids of the pairs not yet being removed that use the connection (by name or id) on
    either side."""
    g, m = calendars.alias("g"), calendars.alias("m")
    named = sa.select(connections.c.id).where(
        sa.or_(connections.c.name == connection, connections.c.id == connection)
    )
    query = (
        sa.select(pairs.c.id)
        .join(g, g.c.id == pairs.c.google_calendar_id)
        .join(m, m.c.id == pairs.c.microsoft_calendar_id)
        .where(sa.or_(g.c.connection_id.in_(named), m.c.connection_id.in_(named)))
        .where(pairs.c.state != PairState.REMOVING.value)
        .order_by(pairs.c.id)
    )
    return [str(row.id) for row in await conn.execute(query)]


async def remove_pairs(
    engine: AsyncEngine,
    pair_ids: Sequence[str],
    *,
    delete_mirrors: bool = False,
    done: Callable[[int], None] | None = None,
) -> int:
    """Mark these pairs `removing` as `remove_pair` does, BATCH to a transaction; `done(n)` after
    each batch. Returns how many were marked (a pair removed meanwhile is left as it is)."""
    reason = "removal requested; mirrors will be deleted" if delete_mirrors else "removal requested"
    allowed = [state.value for state in allowed_from(PairAction.REMOVE) if state is not PairState.REMOVING]
    marked = 0
    for start in range(0, len(pair_ids), BATCH):
        chunk = list(pair_ids[start : start + BATCH])
        async with engine.begin() as conn:
            result = await conn.execute(
                pairs.update()
                .where(pairs.c.id.in_(chunk) & pairs.c.state.in_(allowed))
                .values(state=PairState.REMOVING.value, state_reason=reason, delete_mirrors=delete_mirrors)
            )
            marked += result.rowcount
        if done is not None:
            done(len(chunk))
    return marked


async def finish_removal(conn: AsyncConnection, pair_id: str) -> list[str]:
    """Delete a `removing` pair, its links, and the calendars (with cursors and stopped
    subscriptions) that no other pair uses. Call after their subscriptions were stopped and, when
    asked, the mirrors deleted. Returns the calendar refs it deleted."""
    row = (await conn.execute(sa.select(pairs).where(pairs.c.id == pair_id))).first()
    if row is None:
        return []
    if row.state != PairState.REMOVING:
        raise InvalidTransition(PairState(row.state), PairAction.REMOVE)
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
