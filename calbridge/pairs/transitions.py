"""Writing a pair's state: every action has one target state, so a transition is a conditional
update guarded by the states the action is allowed from (no read first, no race)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.pairs.records import PairRecord, fetch_pair
from calbridge.pairs.states import PairAction, allowed_from, next_state
from calbridge.store.tables import pairs

__all__ = ["reload", "set_state", "transition"]


async def set_state(
    conn: AsyncConnection,
    pair_id: str,
    action: PairAction,
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


async def transition(engine: AsyncEngine, pair_id: str, action: PairAction, **kwargs: Any) -> bool:
    async with engine.begin() as conn:
        return await set_state(conn, pair_id, action, **kwargs)


async def reload(engine: AsyncEngine, pair_id: str) -> PairRecord:
    async with engine.connect() as conn:
        return await fetch_pair(conn, pair_id)
