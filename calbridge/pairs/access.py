"""Checking that the app may read and write a calendar, before a pair is activated.

The check itself belongs to the provider adapters (`CalendarProvider.check_access`); this module
injects it as a plain callable, retries what is worth retrying, and turns what is not into a
reason a person can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from calbridge.clock import Sleep
from calbridge.connections import Connection
from calbridge.errors import (
    AccessDenied,
    CalendarNotFound,
    CredentialRefused,
    NotFound,
    ProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.providers.base import CalendarAddress, CalendarProvider
from calbridge.providers.closing import close_provider
from calbridge.providers.registry import AdapterMissing, known_profile

__all__ = ["AccessChecker", "RegistryAccessChecker", "check_with_retries", "explain_access_failure"]

AccessChecker = Callable[[Connection, CalendarAddress], Awaitable[None]]

ATTEMPTS = 3
LONGEST_WAIT = 30.0  # a Retry-After longer than this fails the check; the pair can be retried later


class RegistryAccessChecker:
    """Checks through the adapters `opener` opens (the process's `Registry.open`), one provider
    per connection, reused."""

    def __init__(self, opener: Callable[[Connection], CalendarProvider]) -> None:
        self._opener = opener
        self._providers: dict[str, CalendarProvider] = {}

    async def __call__(self, connection: Connection, calendar: CalendarAddress) -> None:
        key = connection.id or connection.name
        provider = self._providers.get(key)
        if provider is None:
            provider = self._providers[key] = self._opener(connection)
        await provider.check_access(calendar)

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await close_provider(provider)


async def check_with_retries(
    checker: AccessChecker,
    connection: Connection,
    calendar: CalendarAddress,
    *,
    attempts: int = ATTEMPTS,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Run the check, waiting out throttling and transient failures a few times."""
    for attempt in range(1, attempts + 1):
        try:
            await checker(connection, calendar)
            return
        except Throttled as exc:
            if attempt == attempts or exc.retry_after > LONGEST_WAIT:
                raise
            await sleep(exc.retry_after)
        except TransientProviderError:
            if attempt == attempts:
                raise
            await sleep(float(2 ** (attempt - 1)))


def explain_access_failure(label: str, exc: BaseException, provider: str) -> str:
    """One line saying what failed and what to do about it (no secrets, no provider payloads)."""
    detail = str(exc).strip()
    suffix = f" ({detail})" if detail else ""
    if isinstance(exc, CredentialRefused):  # not a permission: granting more would not help
        profile = known_profile(provider)
        fix = profile.credential_fix if profile is not None else "store the connection's current credential"
        return f"{label}: the connection's credential was refused{suffix}; {fix}"
    if isinstance(exc, AccessDenied):
        profile = known_profile(provider)
        fix = profile.access_fix if profile is not None else "grant the app access to this calendar"
        return f"{label}: access denied{suffix}; {fix}"
    if isinstance(exc, CalendarNotFound):
        return (
            f"{label}: calendar not found{suffix}; it was deleted, or is no longer shared with the "
            "user or mailbox: restore it, or remove the pair"
        )
    if isinstance(exc, NotFound):
        return f"{label}: calendar not found{suffix}; check the address and the calendar id"
    if isinstance(exc, AdapterMissing):
        return f"{label}: {detail}"
    if isinstance(exc, Throttled):
        return f"{label}: the provider is throttling{suffix}; retry later with `calbridge pairs resume`"
    if isinstance(exc, TransientProviderError):
        return f"{label}: the provider is unavailable{suffix}; retry later with `calbridge pairs resume`"
    if isinstance(exc, ProviderError):
        return f"{label}: the provider refused the check{suffix}"
    return f"{label}: the check failed unexpectedly ({exc.__class__.__name__})"
