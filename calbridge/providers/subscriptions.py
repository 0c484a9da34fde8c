"""The one Protocol the renewer speaks to providers through: create, renew and stop a
subscription (a Google channel or a Graph subscription), whatever the SDK underneath.

The renewer chooses the token, the channel id and the expiry it asks for; the provider answers
with its own id for the subscription and the expiry it actually granted (Google and Graph may
both grant less than asked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress

__all__ = ["CannotRenew", "Subscribed", "SubscriptionHandle", "SubscriptionProvider"]


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What a provider granted: its id for the subscription and when it ends."""

    provider_id: str  # Google resourceId / Graph subscription id
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionHandle:
    """Enough to renew or stop a subscription that exists on the provider."""

    id: str  # calbridge's id; for Google the channel id
    provider_id: str
    calendar: CalendarAddress


class CannotRenew(ProviderError):
    """The provider has no renewal for this kind of subscription (Google channels): recreate it."""


class SubscriptionProvider(Protocol):
    """Whether a subscription can be renewed in place is the provider's profile's `renewal`."""

    provider: Provider

    async def create(
        self,
        calendar: CalendarAddress,
        subscription_id: str,
        token: str,
        address: str,
        lifecycle_address: str | None,
        expiry: datetime,
    ) -> Subscribed:
        """Subscribe to the calendar's events; raise ProviderError subclasses on failure.

        `subscription_id` is calbridge's id (the Google channel id; Graph ignores it: its token
        is not bound to an id). `expiry` is what is asked for; read the granted one back.
        """

    async def renew(self, subscription: SubscriptionHandle, new_expiry: datetime) -> datetime:
        """Extend the subscription; the granted expiry. NotFound: it is gone, recreate it."""

    async def stop(self, subscription: SubscriptionHandle) -> None:
        """End the subscription; NotFound when it is already gone (callers may ignore that)."""
