"""Google push channels for the renewer: `events.watch` and `channels.stop`.

Google channels cannot be renewed: the renewer opens a new channel before the old one expires
and then stops the old one (both delivering for a while is harmless: the processor is
idempotent). The channel's `token` is what the receiver authenticates a notification by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calbridge.providers.base import CalendarAddress
from calbridge.providers.google_client import GoogleClient

__all__ = ["GoogleChannel", "stop_channel", "watch_events"]


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
) -> GoogleChannel:
    """Open a channel that notifies `address` of every change to the calendar's events."""
    body: dict[str, object] = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
    if ttl is not None:
        body["params"] = {"ttl": str(int(ttl.total_seconds()))}
    request = client.events.watch(calendarId=calendar.calendar, body=body)
    answer = await client.call(calendar.owner, request, on="calendar")
    expiration = answer.get("expiration")
    return GoogleChannel(
        id=str(answer.get("id", channel_id)),
        resource_id=str(answer["resourceId"]),
        expiration=datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration else None,
    )


async def stop_channel(client: GoogleClient, owner: str, channel: GoogleChannel) -> None:
    """Stop a channel; NotFound when Google no longer knows it (already stopped or expired)."""
    request = client.channels.stop(body={"id": channel.id, "resourceId": channel.resource_id})
    await client.call(owner, request, on="event")
