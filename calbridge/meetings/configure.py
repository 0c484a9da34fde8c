"""The meeting list from settings: free/busy's directory, timeouts and cache TTL (out-of-office
state kept a minute at least), plus the store's pairs re-read at most every minute (a new pair
shows within a minute)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.freebusy.cache import ResultCache
from calbridge.freebusy.configure import DIRECTORY_REFRESH, StoreDirectory, timeouts_from
from calbridge.freebusy.resolve import parse_domain_map
from calbridge.meetings.calendars import PairSides, load_pair_sides
from calbridge.meetings.lookup import MeetingLookup
from calbridge.meetings.source import MeetingSource
from calbridge.settings import Settings

__all__ = ["OOF_MIN_TTL", "StorePairs", "build_meeting_lookup"]

# Out-of-office state is kept at least this long (seconds), whatever the cache TTL: it changes
# a few times a year per person, and no provider notifies a change of it anyway (Graph sends no
# notification for mailbox settings), so a minute-old answer is as good as a fresh one.
OOF_MIN_TTL = 60.0


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.meetings")  # type: ignore[no-any-return]


class StorePairs:
    """The store's pairs with both calendars, re-read at most every `refresh` seconds; while
    the store cannot be read, the last ones read."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        *,
        refresh: float = DIRECTORY_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._refresh = refresh
        self._clock = clock
        self._loaded_at: float | None = None
        self._pairs: list[PairSides] = []

    async def __call__(self) -> list[PairSides]:
        if self._engine is None:
            return self._pairs
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh:
            try:
                self._pairs = await load_pair_sides(self._engine)
            except Exception as exc:
                _log().warning("meetings_pairs_stale", error_type=type(exc).__name__)
            self._loaded_at = self._clock()
        return self._pairs


def build_meeting_lookup(
    settings: Settings,
    sources: Mapping[str, MeetingSource],
    *,
    engine: AsyncEngine | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MeetingLookup:
    return MeetingLookup(
        sources=sources,
        directory=StoreDirectory(parse_domain_map(settings.freebusy_domains or ""), engine, clock=clock),
        cache=ResultCache(settings.freebusy_cache_ttl, clock=clock),
        oof_cache=ResultCache(max(settings.freebusy_cache_ttl, OOF_MIN_TTL), clock=clock),
        pairs=StorePairs(engine, clock=clock),
        timeouts=timeouts_from(settings),
    )
