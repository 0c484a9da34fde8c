"""Google push channels for the renewer: `events.watch` and `channels.stop`.

Google channels cannot be renewed: the renewer opens a new channel before the old one expires
and then stops the old one (both delivering for a while is harmless: the processor is
idempotent). The channel's `token` is what the receiver authenticates a notification by.

A channel asks for its lifetime with `params.ttl` (seconds) and, when given, `expiration`
(Unix ms); Google grants the more restrictive of those and its own limit, so the `expiration`
of the answer is what counts.

`GoogleWatch` is the renewer's `SubscriptionProvider` over these two calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calbridge.errors import TransientProviderError
from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress
from calbridge.providers.google.client import GoogleClient
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.subscriptions import CannotRenew, Subscribed, SubscriptionHandle

__all__ = ["GoogleChannel", "GoogleWatch", "open_google_watch", "stop_channel", "watch_events"]


@dataclass(frozen=True, slots=True)
class GoogleChannel:
    id: str
    resource_id: str  # needed to stop the channel
    expiration: datetime | None  # when Google stops delivering; read it, never assume the ttl


async def watch_events(
    client: GoogleClient,
    calendar: CalendarAddress,
    *,
    channel_id: str,
    address: str,
    token: str,
    ttl: timedelta | None = None,
    expiration: datetime | None = None,
) -> GoogleChannel:
    """Open a channel that notifies `address` of every change to the calendar's events."""
    body: dict[str, object] = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
    if ttl is not None:
        body["params"] = {"ttl": str(max(1, int(ttl.total_seconds())))}
    if expiration is not None:
        body["expiration"] = int(expiration.timestamp() * 1000)
    request = client.events.watch(calendarId=calendar.calendar, body=body)
    answer = await client.call(calendar.owner, request, on="calendar")
    granted = answer.get("expiration")
    return GoogleChannel(
        id=str(answer.get("id", channel_id)),
        resource_id=str(answer["resourceId"]),
        expiration=datetime.fromtimestamp(int(granted) / 1000, UTC) if granted else None,
    )


async def stop_channel(client: GoogleClient, owner: str, channel: GoogleChannel) -> None:
    """Stop a channel; NotFound when Google no longer knows it (already stopped or expired)."""
    request = client.channels.stop(body={"id": channel.id, "resourceId": channel.resource_id})
    await client.call(owner, request, on="event")


class GoogleWatch:
    """Channels as subscriptions: `create` opens one, `stop` stops it, `renew` is impossible
    (the profile's renewal is RECREATE)."""

    provider = Provider.GOOGLE

    def __init__(
        self, client: GoogleClient, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.client = client
        self._clock = clock

    async def create(
        self,
        calendar: CalendarAddress,
        subscription_id: str,
        token: str,
        address: str,
        lifecycle_address: str | None,
        expiry: datetime,
    ) -> Subscribed:
        channel = await watch_events(
            self.client,
            calendar,
            channel_id=subscription_id,
            address=address,
            token=token,
            ttl=expiry - self._clock(),
            expiration=expiry,
        )
        if channel.expiration is None:  # a channel that never expires is not what we asked for
            raise TransientProviderError("google answered a watch without an expiration")
        return Subscribed(provider_id=channel.resource_id, expires_at=channel.expiration)

    async def renew(self, subscription: SubscriptionHandle, new_expiry: datetime) -> datetime:
        raise CannotRenew("a Google channel cannot be renewed; open a new one")

    async def stop(self, subscription: SubscriptionHandle) -> None:
        channel = GoogleChannel(subscription.id, subscription.provider_id, None)
        await stop_channel(self.client, subscription.calendar.owner, channel)

    async def aclose(self) -> None:
        self.client.close()


def open_google_watch(
    connection: GoogleConnection, *, timeout: float, clock: Callable[[], datetime]
) -> GoogleWatch:
    """The renewer's `SubscriptionProvider` over a stored Google connection; a small thread
    pool, since the renewer makes a few calls a minute at most."""
    client = GoogleClient.for_connection(connection, threads=2, timeout=timeout)
    return GoogleWatch(client, clock=clock)
