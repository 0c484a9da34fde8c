"""Free/busy from settings: limits, timeouts, keys, and a directory refreshed from the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.events import Provider
from calbridge.freebusy.auth import parse_keys
from calbridge.freebusy.cache import FreeBusyCache
from calbridge.freebusy.models import Limits
from calbridge.freebusy.orchestrate import Lookup, default_timeouts
from calbridge.freebusy.resolve import Directory, load_known_addresses, parse_domain_map
from calbridge.freebusy.source import FreeBusySource
from calbridge.settings import Settings, parse_provider_seconds

__all__ = [
    "DIRECTORY_REFRESH",
    "StoreDirectory",
    "build_lookup",
    "keys_from",
    "limits_from",
    "timeouts_from",
]


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.freebusy")  # type: ignore[no-any-return]


# How long the store's list of calendar owners is reused before it is read again.
DIRECTORY_REFRESH = 60.0


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_window=timedelta(days=settings.freebusy_max_window_days),
        max_addresses=settings.freebusy_max_addresses,
    )


def timeouts_from(settings: Settings) -> dict[Provider, float]:
    given = parse_provider_seconds(settings.freebusy_timeouts)
    return {provider: given.get(str(provider), seconds) for provider, seconds in default_timeouts().items()}


def keys_from(settings: Settings) -> dict[str, bytes]:
    """Bearer keys; empty when free/busy is not configured."""
    if settings.freebusy_keys is None:
        return {}
    return parse_keys(settings.freebusy_keys.get_secret_value())


class StoreDirectory:
    """The domain map, plus the store's calendar owners re-read at most every `refresh` seconds."""

    def __init__(
        self,
        domains: Mapping[str, str],
        engine: AsyncEngine | None = None,
        *,
        refresh: float = DIRECTORY_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._domains = dict(domains)
        self._engine = engine
        self._refresh = refresh
        self._clock = clock
        self._loaded_at: float | None = None
        self._directory = Directory(domains=self._domains)

    async def __call__(self) -> Directory:
        """The directory; while the store cannot be read, the last one read (or the domain map)."""
        if self._engine is None:
            return self._directory
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh:
            try:
                known = await load_known_addresses(self._engine)
            except Exception as exc:
                _log().warning("freebusy_directory_stale", error_type=type(exc).__name__)
            else:
                self._directory = Directory(domains=self._domains, known=known)
            self._loaded_at = self._clock()  # failed or not: try again after `refresh`, not per request
        return self._directory


def build_lookup(
    settings: Settings,
    sources: Mapping[str, FreeBusySource],
    *,
    engine: AsyncEngine | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Lookup:
    return Lookup(
        sources=sources,
        directory=StoreDirectory(parse_domain_map(settings.freebusy_domains or ""), engine, clock=clock),
        cache=FreeBusyCache(settings.freebusy_cache_ttl, clock=clock),
        timeouts=timeouts_from(settings),
    )
