"""A pair's health in the store: what the processor found wrong with it, and getting well again.

Which states stop work and which only warn (docs/pairs.md, "Health"):

- `error` stops work. A permanent failure about the pair itself (the app's access to a mailbox
  refused, its credential refused, a calendar gone) puts an active pair in `error` with a reason
  that names the remedy (`connection_faults.fail_pair`, as a connection that cannot be opened
  does); hints for it are dropped and its subscriptions stopped, because every pass would fail
  the same way. A pair in error is checked again every `recheck_interval` (`claim_rechecks`,
  then activation: access on both sides, a full resync) and on `pairs resume`, so it becomes
  active on its own once access is restored. (A pair in error because its connection cannot be
  opened is brought back by the renewer's connection step, `subscriptions/isolation.py`.)
- `active` with a `last_error` only warns: the last pass failed for a reason that may pass (the
  provider unavailable, retrying); the next successful pass clears it (`note_last_error`).
- `active` with event failures only warns too: the pair syncs, some events of it do not
  (`calbridge.pairs.event_failures`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.pairs.states import PairState
from calbridge.store.tables import pairs

__all__ = ["claim_rechecks", "note_last_error"]

_MAX_ERROR = 1000


async def note_last_error(engine: AsyncEngine, pair_id: str, error: str | None) -> None:
    """Set (or, with None, clear) an active pair's last error without changing its state."""
    async with engine.begin() as conn:
        await conn.execute(
            pairs.update()
            .where((pairs.c.id == pair_id) & (pairs.c.state == PairState.ACTIVE.value))
            .values(last_error=None if error is None else error[:_MAX_ERROR])
        )


async def claim_rechecks(
    engine: AsyncEngine, now: datetime, interval: timedelta, limit: int = 50
) -> list[str]:
    """Pairs in `error` due for another check, claimed for `interval` (so several renewers do not
    check one pair at once, and a pair still failing is checked again only after `interval`)."""
    due = (pairs.c.state == PairState.ERROR.value) & (
        pairs.c.recheck_at.is_(None) | (pairs.c.recheck_at <= now)
    )
    async with engine.connect() as conn:
        candidates = [
            row[0]
            for row in await conn.execute(
                sa.select(pairs.c.id)
                .where(due)
                .order_by(pairs.c.recheck_at.nulls_first(), pairs.c.id)
                .limit(limit)
            )
        ]
    claimed: list[str] = []
    for pair_id in candidates:
        async with engine.begin() as conn:
            result = await conn.execute(
                pairs.update().where(due & (pairs.c.id == pair_id)).values(recheck_at=now + interval)
            )
        if result.rowcount == 1:
            claimed.append(pair_id)
    return claimed
