"""Microsoft Graph's profile: push subscriptions renewed in place, at most 4 requests per mailbox.

- An Outlook event subscription lasts at most 10080 minutes; calbridge asks for 10070 (clock
  skew) and extends it with a PATCH, which cannot change its `clientState`.
- The `clientState` holds at most 128 characters; it is not bound to the subscription id (only
  known after the create).
- Lifecycle notifications (reauthorizationRequired, subscriptionRemoved, missed) have a route
  of their own.
- Outlook answers 429 "MailboxConcurrency" past 4 requests in flight per app and mailbox, and
  429 past 10,000 requests per 10 minutes per app and mailbox (the quota key: the app's client
  id and the mailbox).
- `getSchedule` takes 20 schedules per call over a window under 62 days.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.freebusy.batching import ProviderLimits
from calbridge.model import MeetingProvider
from calbridge.pairs.policy import Side
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.profile import DeliveryMode, ProviderProfile, Renewal, TokenFormat
from calbridge.providers.quota import Quota, QuotaKey

if TYPE_CHECKING:
    from calbridge.clock import Clock
    from calbridge.connections import Connection
    from calbridge.freebusy.source import FreeBusySource
    from calbridge.meetings.source import MeetingSource
    from calbridge.providers.base import CalendarProvider
    from calbridge.providers.limits import AdapterShares
    from calbridge.providers.subscriptions import SubscriptionProvider
    from calbridge.settings import Settings

__all__ = ["PROFILE"]


def _graph(connection: Connection) -> GraphConnection:
    if not isinstance(connection, GraphConnection):
        raise ProviderError(f"not a Graph connection: {connection.provider}")
    return connection


def _open_adapter(connection: Connection, settings: Settings, shares: AdapterShares) -> CalendarProvider:
    from calbridge.providers.graph.adapter import open_graph

    graph = _graph(connection)
    return open_graph(graph, settings, shares.limits, shares.gate(graph.client_id))


def _open_freebusy(connection: Connection, settings: Settings, mailbox: str | None) -> FreeBusySource:
    from calbridge.providers.graph.freebusy import open_graph_source

    return open_graph_source(_graph(connection), mailbox=mailbox, timeout=settings.provider_timeout)


def _open_subscriptions(connection: Connection, settings: Settings, clock: Clock) -> SubscriptionProvider:
    from calbridge.providers.graph.subscriptions import open_graph_subscriptions

    return open_graph_subscriptions(_graph(connection), timeout=settings.provider_timeout, clock=clock)


def _configure(profile: ProviderProfile, settings: Settings) -> ProviderProfile:
    return profile.but(
        subscription_lifetime=timedelta(minutes=settings.graph_subscription_minutes),
        mailbox_concurrency=settings.graph_mailbox_concurrency,
    )


async def _verify(connection: Connection, seconds: float) -> str:
    from calbridge.providers.graph.verify import verify_graph

    return await verify_graph(connection, seconds)


def _open_meetings(connection: Connection, settings: Settings) -> MeetingSource:
    from calbridge.providers.graph.meetings import open_graph_meetings
    from calbridge.providers.limits import MailboxLimits

    return open_graph_meetings(
        _graph(connection),
        limits=MailboxLimits(settings.graph_mailbox_concurrency),
        timeout=settings.provider_timeout,
    )


PROFILE = ProviderProfile(
    provider=Provider.GRAPH,
    side=Side.MICROSOFT,
    delivery=DeliveryMode.PUSH,
    renewal=Renewal.IN_PLACE,
    subscription_lifetime=timedelta(minutes=10_070),
    notification_path="/notifications/graph",
    lifecycle_path="/notifications/graph/lifecycle",
    token=TokenFormat(code="m", max_length=128, bound_to_channel=False),
    freebusy=ProviderLimits(max_addresses=20, max_window=timedelta(days=61)),
    freebusy_timeout=4.0,
    mailbox_concurrency=4,
    quotas=(Quota("mailbox", QuotaKey.MAILBOX, 10_000, 600, warn_at=0.8, local_share=2),),
    credential_fix=(
        "the app's client secret is wrong or expired (or the app or tenant is gone): create a new "
        "secret in Entra ID and store it with `calbridge connections add graph ... --replace`"
    ),
    access_fix="grant the app Calendars.ReadWrite and include this mailbox in its access policy",
    connection_type=GraphConnection,
    open_adapter=_open_adapter,
    open_freebusy=_open_freebusy,
    open_meetings=_open_meetings,
    open_subscriptions=_open_subscriptions,
    verify_credentials=_verify,
    configure=_configure,
    meeting_hosts=frozenset({MeetingProvider.TEAMS}),
)
