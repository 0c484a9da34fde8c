"""Answer a set of addresses over a window: cache first, then every connection concurrently.

Each connection gets its own deadline (its provider's timeout: the settings', else the profile's)
and its calls are planned within the provider's profile's limits. Within the deadline, the
planned calls run concurrently; a call the provider throttles is retried once if its Retry-After
fits before the deadline, otherwise its addresses get a `providerFailed` error carrying
`retry_after`. Whatever a provider does, only its own addresses get errors: the request as a
whole always answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import TypeVar

import structlog

from calbridge.clock import Sleep
from calbridge.errors import AccessDenied, NotFound, ProviderError, Throttled
from calbridge.events import Provider
from calbridge.freebusy.batching import PlannedCall, ProviderLimits, plan_calls
from calbridge.freebusy.cache import CacheKey, ResultCache
from calbridge.freebusy.intervals import normalize
from calbridge.freebusy.metrics import CACHE_LOOKUPS, PROVIDER_CALL_SECONDS, PROVIDER_CALLS
from calbridge.freebusy.resolve import Directory, resolve
from calbridge.freebusy.source import FreeBusySource
from calbridge.freebusy.types import AddressError, Busy, BusyResult, ErrorCode, LookupOutcome, Window
from calbridge.providers.registry import PROFILES, profile_for

__all__ = ["Lookup", "Sleep", "default_timeouts", "guarded_call"]
T = TypeVar("T")
# Time left after a throttled call's wait, so the retry itself has a chance to answer.
RETRY_HEADROOM = 0.05


def default_timeouts() -> dict[Provider, float]:
    """Seconds per lookup for each provider, as its profile says."""
    return {profile.provider: profile.freebusy_timeout for profile in PROFILES}


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.freebusy")  # type: ignore[no-any-return]


@dataclass
class Lookup:
    """Everything one free/busy answer needs; the HTTP app and the CLI share one."""

    sources: Mapping[str, FreeBusySource]  # connection name -> source
    directory: Callable[[], Awaitable[Directory]]
    cache: ResultCache[LookupOutcome]
    timeouts: Mapping[Provider, float] = field(default_factory=lambda: default_timeouts())
    sleep: Sleep = asyncio.sleep

    async def answer(self, addresses: Sequence[str], window: Window) -> dict[str, LookupOutcome]:
        """An outcome for every (normalised) address, in the order given."""
        keys = [_key(address, window) for address in addresses]
        claim = self.cache.claim(keys)
        CACHE_LOOKUPS.labels("hit").inc(len(claim.hits))
        CACHE_LOOKUPS.labels("wait").inc(len(claim.waiting))
        CACHE_LOOKUPS.labels("miss").inc(len(claim.owned))
        fresh: dict[str, LookupOutcome] = {}
        try:
            if claim.owned:
                fresh = await self._fetch([key.address for key in claim.owned], window)
        finally:
            for key in claim.owned:  # settle every owned key, or identical lookups would hang
                self.cache.settle(key, fresh.get(key.address) or _failed("the lookup was interrupted"))
        # Shielded: a caller that goes away must not cancel the lookup others are waiting on.
        waited = {key.address: await asyncio.shield(future) for key, future in claim.waiting.items()}
        known = {key.address: outcome for key, outcome in claim.hits.items()} | waited | fresh
        return {address: known[address] for address in addresses}

    async def _fetch(self, addresses: list[str], window: Window) -> dict[str, LookupOutcome]:
        try:
            directory = await self.directory()
        except Exception as exc:  # answer every address, even when routing is impossible
            _log().error("freebusy_directory_unavailable", error_type=type(exc).__name__)
            return dict.fromkeys(addresses, _failed("the address directory is unavailable"))
        resolution = resolve(addresses, directory)
        outcomes: dict[str, LookupOutcome] = {
            address: AddressError(ErrorCode.UNKNOWN_ADDRESS, "no connection serves this address")
            for address in resolution.unknown
        }
        asks = []
        for name, routed in resolution.routes.items():
            source = self.sources.get(name)
            if source is None:
                _log().warning("freebusy_connection_missing", connection=name)
                outcomes.update(dict.fromkeys(routed, _failed(f"connection {name!r} is not available")))
                continue
            profile = profile_for(source.provider)
            timeout = self.timeouts.get(source.provider, profile.freebusy_timeout)
            asks.append(self._ask(source, routed, window, timeout, profile.freebusy))
        for answered in await asyncio.gather(*asks):
            outcomes.update(answered)
        return outcomes

    async def _ask(
        self,
        source: FreeBusySource,
        addresses: list[str],
        window: Window,
        budget: float,
        limits: ProviderLimits,
    ) -> dict[str, LookupOutcome]:
        """One connection: every planned call concurrently, then one outcome per address."""
        deadline = asyncio.get_running_loop().time() + budget
        # Planned in UTC (exact lengths across DST), asked in the requested zone.
        planned = plan_calls(addresses, window.start.astimezone(UTC), window.end.astimezone(UTC), limits)
        zone = window.zone
        calls = [PlannedCall(c.addresses, c.start.astimezone(zone), c.end.astimezone(zone)) for c in planned]
        parts = await asyncio.gather(*(self._call(source, call, deadline, budget) for call in calls))
        blocks: dict[str, list[Busy]] = {address: [] for address in addresses}
        errors: dict[str, AddressError] = {}
        for part in parts:
            for address, outcome in part.items():
                if isinstance(outcome, AddressError):
                    errors.setdefault(address, outcome)
                else:
                    blocks[address].extend(outcome.busy)
        return {
            address: errors.get(address) or BusyResult(normalize(blocks[address], window.start, window.end))
            for address in addresses
        }

    async def _call(
        self, source: FreeBusySource, call: PlannedCall, deadline: float, budget: float
    ) -> dict[str, LookupOutcome]:
        answer = await guarded_call(
            str(source.provider),
            lambda: source.query(call.addresses, call.start, call.end),
            deadline=deadline,
            budget=budget,
            sleep=self.sleep,
        )
        if isinstance(answer, AddressError):
            return _all(call, answer)
        missing = _failed("the provider did not answer for this address")
        return {address: answer.get(address, missing) for address in call.addresses}


async def guarded_call(
    provider: str, attempt: Callable[[], Awaitable[T]], *, deadline: float, budget: float, sleep: Sleep
) -> T | AddressError:
    """One provider call within a deadline (loop time): its answer, or the error its addresses
    get. A throttled call is retried once if its Retry-After fits before the deadline; whatever
    else goes wrong (a timeout, a refusal, a broken source) becomes an `AddressError`, so one
    provider never fails another's answers. Shared by free/busy and the meeting list."""
    loop = asyncio.get_running_loop()
    retried = False
    while True:
        started = loop.time()
        try:
            async with asyncio.timeout_at(deadline):
                answer = await attempt()
        except Throttled as exc:
            PROVIDER_CALLS.labels(provider, "throttled").inc()
            if not retried and loop.time() + exc.retry_after + RETRY_HEADROOM < deadline:
                retried = True
                await sleep(exc.retry_after)
                continue
            return _failed("the provider is throttling requests", exc.retry_after)
        except TimeoutError:
            PROVIDER_CALLS.labels(provider, "timeout").inc()
            return _failed(f"the provider did not answer within {budget:g}s")
        except AccessDenied:
            PROVIDER_CALLS.labels(provider, "denied").inc()
            return AddressError(ErrorCode.NOT_PERMITTED, "the provider refused access")
        except NotFound:
            PROVIDER_CALLS.labels(provider, "failed").inc()
            return AddressError(ErrorCode.UNKNOWN_ADDRESS, "the provider does not know it")
        except ProviderError as exc:
            PROVIDER_CALLS.labels(provider, "failed").inc()
            _log().warning("freebusy_provider_failed", provider=provider, error_type=type(exc).__name__)
            return _failed("the provider failed")
        except Exception as exc:  # one broken source must not fail the others' answers
            PROVIDER_CALLS.labels(provider, "failed").inc()
            _log().error("freebusy_source_error", provider=provider, error_type=type(exc).__name__)
            return _failed("the provider failed")
        PROVIDER_CALLS.labels(provider, "ok").inc()
        PROVIDER_CALL_SECONDS.labels(provider).observe(loop.time() - started)
        return answer


def _key(address: str, window: Window) -> CacheKey:
    return CacheKey(address, window.start.astimezone(UTC), window.end.astimezone(UTC), str(window.zone))


def _failed(detail: str, retry_after: float | None = None) -> AddressError:
    return AddressError(ErrorCode.PROVIDER_FAILED, detail, retry_after)


def _all(call: PlannedCall, outcome: LookupOutcome) -> dict[str, LookupOutcome]:
    return dict.fromkeys(call.addresses, outcome)
