"""Google Calendar's profile: push channels that cannot be renewed, tokens bound to a channel.

- A channel (`events.watch`) lasts 7 days unless asked otherwise and has no renewal: a new
  channel is opened before the old one ends, then the old one stopped.
- Its token (at most 256 characters) is signed over the channel id, chosen before the watch.
- `freeBusy.query` takes at most 50 calendars (`calendarExpansionMax`); the longest span is
  undocumented and longer than about three months has been seen refused: 60 days per call.
- Quotas (per Cloud project, so per service account's `project_id`): 600 requests per minute per
  user, 10,000 per minute per project (both sliding), and since 2026 1,000,000 per project per
  day that cannot be raised (Google's day starts at midnight Pacific time; counted from 08:00
  UTC, which in summer keeps an hour of the new day on the old one's count: the safe side).
  Past 80 % of the day the rest is released evenly over the day (`calbridge.providers.quota`).
  The per-user quota is counted in each process against half of it (`Quota.local_share`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.freebusy.batching import ProviderLimits
from calbridge.model import MeetingProvider
from calbridge.pairs.policy import Side
from calbridge.providers.google.connection import GoogleConnection
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


def _google(connection: Connection) -> GoogleConnection:
    if not isinstance(connection, GoogleConnection):
        raise ProviderError(f"not a Google connection: {connection.provider}")
    return connection


def _open_adapter(connection: Connection, settings: Settings, shares: AdapterShares) -> CalendarProvider:
    from calbridge.providers.google.adapter import open_google

    google = _google(connection)
    project = str(google.service_account_info().get("project_id") or google.client_email)
    return open_google(google, settings, shares.gate(project))


def _open_freebusy(connection: Connection, settings: Settings, mailbox: str | None) -> FreeBusySource:
    from calbridge.providers.google.freebusy import open_google_source

    return open_google_source(
        _google(connection),
        mailbox=mailbox,
        threads=settings.google_threads,
        timeout=settings.provider_timeout,
    )


def _open_subscriptions(connection: Connection, settings: Settings, clock: Clock) -> SubscriptionProvider:
    from calbridge.providers.google.subscriptions import open_google_watch

    return open_google_watch(_google(connection), timeout=settings.provider_timeout, clock=clock)


def _configure(profile: ProviderProfile, settings: Settings) -> ProviderProfile:
    day = settings.google_project_daily_quota  # a Scaled Tier project may have more; 0: no cap
    quotas = tuple(
        q.but(limit=day) if q.scope == DAILY.scope else q
        for q in profile.quotas
        if q.scope != DAILY.scope or day
    )
    return profile.but(subscription_lifetime=settings.google_channel_ttl, quotas=quotas)


DAILY = Quota(
    "project-day",
    QuotaKey.OWNER,
    1_000_000,
    86_400,
    sliding=False,
    offset=8 * 3600,
    warn_at=0.8,
    reserve=True,
)


async def _verify(connection: Connection, seconds: float) -> str:
    from calbridge.providers.google.verify import verify_google

    return await verify_google(connection, seconds)


def _open_meetings(connection: Connection, settings: Settings) -> MeetingSource:
    from calbridge.providers.google.meetings import open_google_meetings

    return open_google_meetings(
        _google(connection), threads=settings.google_threads, timeout=settings.provider_timeout
    )


PROFILE = ProviderProfile(
    provider=Provider.GOOGLE,
    side=Side.GOOGLE,
    delivery=DeliveryMode.PUSH,
    renewal=Renewal.RECREATE,
    subscription_lifetime=timedelta(days=7),
    notification_path="/notifications/google",
    lifecycle_path=None,
    token=TokenFormat(code="g", max_length=256, bound_to_channel=True),
    freebusy=ProviderLimits(max_addresses=50, max_window=timedelta(days=60)),
    freebusy_timeout=4.0,
    mailbox_concurrency=None,
    quotas=(
        Quota("user", QuotaKey.MAILBOX, 600, 60, local_share=2),
        Quota("project", QuotaKey.OWNER, 10_000, 60, warn_at=0.8),
        DAILY,
    ),
    credential_fix=(
        "the service account key was deleted or disabled: create a new key and store it with "
        "`calbridge connections add google --service-account KEY.json --replace`"
    ),
    access_fix=(
        "grant the service account's client id domain-wide delegation for the Calendar "
        "scope, and check the user exists in the Workspace"
    ),
    connection_type=GoogleConnection,
    open_adapter=_open_adapter,
    open_freebusy=_open_freebusy,
    open_meetings=_open_meetings,
    open_subscriptions=_open_subscriptions,
    verify_credentials=_verify,
    configure=_configure,
    meeting_hosts=frozenset({MeetingProvider.GOOGLE_MEET}),
    silent_organizer_updates=True,
)
