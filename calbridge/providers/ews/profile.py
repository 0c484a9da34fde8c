"""Exchange (EWS)'s profile: streaming notifications that the EWS listener holds.

- Exchange pushes nothing to a URL here: the EWS listener (`ews_listener/`) holds
  `GetStreamingEvents` streams and replaces its streaming subscriptions itself, so no token
  travels, no receiver route exists and the renewer leaves EWS calendars alone.
- `GetUserAvailability` takes 100 mailboxes per call over 42 days (Exchange's default cap).
- Free/busy answers are slower than Graph's or Google's: 6 seconds per lookup.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.freebusy.batching import ProviderLimits
from calbridge.pairs.policy import Side
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.profile import DeliveryMode, ProviderProfile, Renewal

if TYPE_CHECKING:
    from calbridge.connections import Connection
    from calbridge.freebusy.source import FreeBusySource
    from calbridge.meetings.source import MeetingSource
    from calbridge.providers.base import CalendarProvider
    from calbridge.providers.limits import AdapterShares
    from calbridge.settings import Settings

__all__ = ["MEETING_THREADS", "PROFILE"]

MEETING_THREADS = 8


def _ews(connection: Connection) -> EwsConnection:
    if not isinstance(connection, EwsConnection):
        raise ProviderError(f"not an EWS connection: {connection.provider}")
    return connection


def _open_adapter(connection: Connection, settings: Settings, shares: AdapterShares) -> CalendarProvider:
    from calbridge.providers.ews.adapter import open_ews

    return open_ews(_ews(connection), settings)


def _open_freebusy(connection: Connection, settings: Settings, mailbox: str | None) -> FreeBusySource:
    from calbridge.providers.ews.freebusy import open_ews_source

    return open_ews_source(_ews(connection), mailbox=mailbox, threads=settings.ews_threads)


async def _verify(connection: Connection, seconds: float) -> str:
    from calbridge.providers.ews.verify import verify_ews

    return await verify_ews(connection, seconds)


def _open_meetings(connection: Connection, settings: Settings) -> MeetingSource:
    from calbridge.providers.ews.meetings import open_ews_meetings

    # A meeting list waits on two round trips per person (FindItem, then GetItem) more than it
    # computes: at least MEETING_THREADS, so a wall of 20 people is not served in waves.
    return open_ews_meetings(_ews(connection), threads=max(settings.ews_threads, MEETING_THREADS))


PROFILE = ProviderProfile(
    provider=Provider.EWS,
    side=Side.MICROSOFT,
    delivery=DeliveryMode.STREAMING,
    renewal=Renewal.LISTENER,
    subscription_lifetime=None,
    notification_path=None,
    lifecycle_path=None,
    token=None,
    freebusy=ProviderLimits(max_addresses=100, max_window=timedelta(days=42)),
    freebusy_timeout=6.0,
    mailbox_concurrency=None,
    quotas=(),  # EWS throttles by policy budgets, answered with BackOffMilliseconds
    credential_fix=(
        "the EWS account's password (or token) is wrong or expired: store the current one with "
        "`calbridge connections add ews ... --replace`"
    ),
    access_fix="give the EWS account impersonation rights on this mailbox",
    connection_type=EwsConnection,
    open_adapter=_open_adapter,
    open_freebusy=_open_freebusy,
    open_meetings=_open_meetings,
    open_subscriptions=None,
    verify_credentials=_verify,
    silent_organizer_updates=True,
)
