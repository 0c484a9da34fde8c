"""Removing pairs: marked at once, finished by the renewer.

`remove_pair` marks the pair `removing` (and records `delete_mirrors`); nothing processes it after
that. The renewer stops the subscriptions of calendars no live pair still uses, has the mirrors
deleted when `delete_mirrors` is set, then calls `finish_removal`, which deletes the pair, its
links, and the calendars nothing uses any more.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.pairs.records import PairRecord
from calbridge.pairs.states import InvalidTransition, PairAction, PairState
from calbridge.pairs.transitions import reload, transition
from calbridge.store.tables import calendars, cursors, links, pairs, subscriptions

__all__ = ["finish_removal", "remove_pair"]


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
