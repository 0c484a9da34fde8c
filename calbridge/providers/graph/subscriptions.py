"""Graph change-notification subscriptions for the renewer: create, renew (PATCH of the
expiration), delete.

Subscriptions ask for immutable ids, like every other Graph request calbridge makes, so the ids
in notifications match the ids the adapter reads. `client_state` is what the receiver
authenticates a notification by (at most 128 characters); a PATCH cannot change it, which is
why the renewer recreates a subscription whose token must be re-signed.

Outlook events allow at most 10080 minutes; `GraphSubscriptions` never asks for more than that
minus `SAFETY` by its clock, so skew between us and Graph never fails a create or a renewal.
`GraphSubscriptions` is the renewer's `SubscriptionProvider` over these calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.client import GraphClient
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.graph.errors import translate_exception
from calbridge.providers.subscriptions import Subscribed, SubscriptionHandle

__all__ = [
    "MAX_LIFETIME",
    "SAFETY",
    "GraphSubscription",
    "GraphSubscriptions",
    "create_subscription",
    "delete_subscription",
    "open_graph_subscriptions",
    "renew_subscription",
    "resource_of",
]

CHANGE_TYPES = "created,updated,deleted"
MAX_LIFETIME = timedelta(minutes=10_080)  # Outlook message/event/contact, basic notifications
SAFETY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class GraphSubscription:
    id: str
    expiration: datetime


def resource_of(calendar: CalendarAddress) -> str:
    """What to watch: every event of the mailbox's default calendar, or of one calendar."""
    if calendar.calendar == "primary":
        return f"/users/{calendar.owner}/events"
    return f"/users/{calendar.owner}/calendars/{calendar.calendar}/events"


async def create_subscription(
    client: GraphClient,
    calendar: CalendarAddress,
    *,
    notification_url: str,
    client_state: str,
    expiration: datetime,
    lifecycle_url: str | None = None,
) -> GraphSubscription:
    """Subscribe; Graph validates `notification_url` (and `lifecycle_url`) before answering."""
    body: dict[str, Any] = {
        "changeType": CHANGE_TYPES,
        "notificationUrl": notification_url,
        "resource": resource_of(calendar),
        "expirationDateTime": _iso(expiration),
        "clientState": client_state,
    }
    if lifecycle_url:
        body["lifecycleNotificationUrl"] = lifecycle_url
    answer = await _send(client, GraphClient.request("POST", client.sdk.subscriptions, body), "calendar")
    return _subscription(answer)


async def renew_subscription(
    client: GraphClient, subscription_id: str, expiration: datetime
) -> GraphSubscription:
    """Move the expiration on; NotFound when the subscription is gone (create a new one)."""
    builder = client.sdk.subscriptions.by_subscription_id(subscription_id)
    body = {"expirationDateTime": _iso(expiration)}
    return _subscription(await _send(client, GraphClient.request("PATCH", builder, body), "event"))


async def delete_subscription(client: GraphClient, subscription_id: str) -> None:
    """Delete; NotFound when it is already gone."""
    builder = client.sdk.subscriptions.by_subscription_id(subscription_id)
    await _send(client, GraphClient.request("DELETE", builder), "event")


class GraphSubscriptions:
    """Graph subscriptions as the renewer sees them: renewable in place by PATCH (the profile's
    renewal is IN_PLACE)."""

    provider = Provider.GRAPH

    def __init__(
        self, client: GraphClient, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.client = client
        self._clock = clock

    def _bounded(self, expiry: datetime) -> datetime:
        return min(expiry, self._clock() + MAX_LIFETIME - SAFETY)

    async def create(
        self,
        calendar: CalendarAddress,
        subscription_id: str,
        token: str,
        address: str,
        lifecycle_address: str | None,
        expiry: datetime,
    ) -> Subscribed:
        created = await create_subscription(
            self.client,
            calendar,
            notification_url=address,
            client_state=token,
            expiration=self._bounded(expiry),
            lifecycle_url=lifecycle_address,
        )
        return Subscribed(provider_id=created.id, expires_at=created.expiration)

    async def renew(self, subscription: SubscriptionHandle, new_expiry: datetime) -> datetime:
        renewed = await renew_subscription(self.client, subscription.provider_id, self._bounded(new_expiry))
        return renewed.expiration

    async def stop(self, subscription: SubscriptionHandle) -> None:
        await delete_subscription(self.client, subscription.provider_id)

    async def aclose(self) -> None:
        await self.client.close()


def open_graph_subscriptions(
    connection: GraphConnection, *, timeout: float, clock: Callable[[], datetime]
) -> GraphSubscriptions:
    """The renewer's `SubscriptionProvider` over a stored Graph connection."""
    client = GraphClient.for_connection(connection, timeout=timeout)
    return GraphSubscriptions(client, clock=clock)


async def _send(client: GraphClient, info: Any, on: Any) -> Any:
    try:
        return await client.send(info)
    except Exception as exc:
        error = translate_exception(exc, on=on)
        if error is None:
            raise
        raise error from exc


def _subscription(answer: dict[str, Any]) -> GraphSubscription:
    return GraphSubscription(id=str(answer["id"]), expiration=_parse(str(answer["expirationDateTime"])))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
