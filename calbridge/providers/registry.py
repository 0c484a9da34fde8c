"""The one table of providers, and what one process opens through it.

`PROFILES` lists every provider calbridge speaks to, one line each (its slice's
`profile.PROFILE`); the kernel asks `profile_for(provider)` instead of branching on the provider.

`Registry` is built once per process from that process's settings and passed to whatever opens
adapters: it holds the profiles with the settings applied and one `MailboxLimits` per provider
that caps requests per mailbox (Outlook counts them per app and mailbox, not per adapter, so
every adapter of the process shares one), and, given a `QuotaBook`, the provider's request quotas
counted with the other replicas (`calbridge.providers.budget`). A registry built from fewer profiles, or from
profiles whose openers are fakes (`profile.but(open_adapter=...)`), is how tests and partial
builds say which adapters exist: opening a connection of a provider it lacks raises
AdapterMissing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from calbridge.clock import Clock
from calbridge.connections import Connection
from calbridge.errors import ProviderError
from calbridge.freebusy.source import FreeBusySource
from calbridge.providers.base import CalendarProvider
from calbridge.providers.budget import QuotaBook
from calbridge.providers.ews import profile as ews
from calbridge.providers.google import profile as google
from calbridge.providers.graph import profile as graph
from calbridge.providers.limits import AdapterShares, MailboxLimits
from calbridge.providers.profile import ProviderProfile
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.settings import Settings

__all__ = ["PROFILES", "AdapterMissing", "Registry", "known_profile", "profile_for"]

PROFILES: tuple[ProviderProfile, ...] = (
    google.PROFILE,
    graph.PROFILE,
    ews.PROFILE,
)

# Keyed by the provider's name: a `Provider` and the plain string read from the store both find it.
_BY_NAME: Mapping[str, ProviderProfile] = MappingProxyType({p.provider.value: p for p in PROFILES})


class AdapterMissing(ProviderError):
    """No adapter for this provider is in this build (or in the registry a test built)."""


def known_profile(provider: str) -> ProviderProfile | None:
    """The profile of a provider by name, None for a name calbridge does not know."""
    return _BY_NAME.get(provider)


def profile_for(provider: str) -> ProviderProfile:
    """The profile of a provider calbridge knows (every `Provider` has one)."""
    profile = _BY_NAME.get(provider)
    if profile is None:
        raise AdapterMissing(f"no {provider} adapter is available in this build of calbridge")
    return profile


class Registry:
    """The providers one process serves, with its settings applied; opens their adapters."""

    def __init__(
        self,
        settings: Settings,
        profiles: Iterable[ProviderProfile] = PROFILES,
        *,
        quota: QuotaBook | None = None,
    ) -> None:
        self.settings = settings
        self.quota = quota
        self._profiles = {p.provider.value: p.tuned(settings) for p in profiles}
        self._limits = {
            name: MailboxLimits(p.mailbox_concurrency)
            for name, p in self._profiles.items()
            if p.mailbox_concurrency is not None
        }
        self._shares = {
            name: AdapterShares(self._limits.get(name), quota, name, p.quotas)
            for name, p in self._profiles.items()
        }

    @property
    def profiles(self) -> tuple[ProviderProfile, ...]:
        return tuple(self._profiles.values())

    def profile(self, provider: str) -> ProviderProfile:
        """This process's profile of `provider`; AdapterMissing if the registry lacks it."""
        profile = self._profiles.get(provider)
        if profile is None:
            raise AdapterMissing(f"no {provider} adapter is available in this build of calbridge")
        return profile

    def limits(self, provider: str) -> MailboxLimits | None:
        """The per-mailbox cap every adapter of `provider` in this process shares, if it has one."""
        return self._limits.get(provider)

    def open(self, connection: Connection) -> CalendarProvider:
        """The adapter for a stored connection (the caller closes it: `closing.close_provider`)."""
        provider = connection.provider.value
        return self.profile(provider).open_adapter(connection, self.settings, self._shares[provider])

    def open_freebusy(self, connection: Connection, mailbox: str | None = None) -> FreeBusySource:
        """The free/busy source of a stored connection, acting as `mailbox` when given."""
        return self.profile(connection.provider.value).open_freebusy(connection, self.settings, mailbox)

    def open_subscriptions(self, connection: Connection, clock: Clock) -> SubscriptionProvider | None:
        """What the renewer creates, renews and stops subscriptions through; None when the
        renewer does not keep this provider's subscriptions (EWS: the listener does)."""
        opener = self.profile(connection.provider.value).open_subscriptions
        return None if opener is None else opener(connection, self.settings, clock)
