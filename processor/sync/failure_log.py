"""Where a pass leaves the events it could not copy: a small Protocol, and its store implementation.

The engine calls `settle` once per pass, after its writes and before its cursor is saved, with
the events that failed and the ids of those it handled. Recording before the cursor moves means
a crash in between replays the pass and records them again; never is an event skipped without
a record.

`StoredFailureLog` records into `event_failures` and clears the rows of events handled this
time. Clearing is one statement, skipped when the pair had no failures as of the pair directory's
read (at most a second old) and none were recorded since: a healthy pair's pass costs nothing
extra.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.pairs.event_failures import FailedEvent, clear_failures, record_failures
from calbridge.pairs.policy import Side

__all__ = ["FailureLog", "StoredFailureLog"]

log = structlog.get_logger("calbridge.processor")


class FailureLog(Protocol):
    async def settle(
        self, pair_id: str, side: Side, failed: Sequence[FailedEvent], handled: Collection[str]
    ) -> None:
        """Record the events of one pass that failed; forget earlier failures of those handled."""


class StoredFailureLog:
    """FailureLog over the store; `known_failures` says whether the pair had any when read."""

    def __init__(self, engine: AsyncEngine, *, known_failures: bool = True) -> None:
        self._engine = engine
        self._known = known_failures
        self.recorded = 0
        self.cleared = 0

    async def settle(
        self, pair_id: str, side: Side, failed: Sequence[FailedEvent], handled: Collection[str]
    ) -> None:
        if not failed and not (self._known and handled):
            return
        cleared = 0
        async with self._engine.begin() as conn:
            if self._known and handled:
                cleared = await clear_failures(conn, pair_id, side, handled)
            await record_failures(conn, pair_id, side, failed, datetime.now(UTC))
        self.cleared += cleared
        self.recorded += len(failed)
        self._known = self._known or bool(failed)
        for failure in failed:
            log.warning(
                "event_failed",
                pair=pair_id,
                side=side.value,
                provider=failure.provider,
                error=failure.error,
            )
        if cleared:
            log.info("event_failures_cleared", pair=pair_id, side=side.value, cleared=cleared)
