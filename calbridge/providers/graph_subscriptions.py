"""Microsoft Graph change-notification subscriptions through msgraph-sdk: create (Graph runs
the validation handshake against both URLs before answering), renew by PATCH of
`expirationDateTime`, delete.

- Resource: `/users/{mailbox}/events` for the default calendar (the documented path), else
  `/users/{mailbox}/calendars/{id}/events`.
- `clientState` is calbridge's signed token. A PATCH cannot change it, which is why the
  renewer recreates a subscription whose token must be re-signed.
- Lifetime: Outlook events allow 10080 minutes; the request stays `SAFETY` below that so
  clock skew between us and Graph never makes a create or renewal fail.
- `Prefer: IdType="ImmutableId"` makes the ids in notifications immutable, as the processor's
  reads are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from calbridge.errors import (
    AccessDenied,
    NotFound,
    PermanentProviderError,
    ProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress
from calbridge.providers.subscriptions import Subscribed, SubscriptionHandle

__all__ = ["MAX_LIFETIME", "SAFETY", "GraphSubscriptions", "resource_for"]

MAX_LIFETIME = timedelta(minutes=10_080)  # Outlook message/event/contact, basic notifications
SAFETY = timedelta(minutes=10)
CHANGE_TYPES = "created,updated,deleted"
_DEFAULT_NAMES = frozenset({"", "primary", "default", "calendar"})


def resource_for(calendar: CalendarAddress) -> str:
    if calendar.calendar.lower() in _DEFAULT_NAMES:
        return f"/users/{calendar.owner}/events"
    return f"/users/{calendar.owner}/calendars/{calendar.calendar}/events"


class GraphSubscriptions:
    provider = Provider.GRAPH
    renewable = True

    def __init__(self, sdk: Any, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """`sdk`: a `msgraph.GraphServiceClient` for the connection's app registration."""
        self._sdk = sdk
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
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.models.subscription import Subscription

        body = Subscription(
            change_type=CHANGE_TYPES,
            notification_url=address,
            lifecycle_notification_url=lifecycle_address,
            resource=resource_for(calendar),
            client_state=token,
            expiration_date_time=self._bounded(expiry),
        )
        config: RequestConfiguration[Any] = RequestConfiguration()
        config.headers.add("Prefer", 'IdType="ImmutableId"')
        created = await self._call(self._sdk.subscriptions.post(body, request_configuration=config))
        if created is None or not created.id or created.expiration_date_time is None:
            raise TransientProviderError("graph answered a subscription create without id or expiry")
        return Subscribed(provider_id=created.id, expires_at=_aware(created.expiration_date_time))

    async def renew(self, subscription: SubscriptionHandle, new_expiry: datetime) -> datetime:
        from msgraph.generated.models.subscription import Subscription

        patch = Subscription(expiration_date_time=self._bounded(new_expiry))
        one = self._sdk.subscriptions.by_subscription_id(subscription.provider_id)
        renewed = await self._call(one.patch(patch))
        if renewed is None or renewed.expiration_date_time is None:
            raise TransientProviderError("graph answered a renewal without an expiry")
        return _aware(renewed.expiration_date_time)

    async def stop(self, subscription: SubscriptionHandle) -> None:
        await self._call(self._sdk.subscriptions.by_subscription_id(subscription.provider_id).delete())

    async def _call(self, call: Any) -> Any:
        try:
            return await call
        except Exception as exc:
            mapped = translate_graph(exc)
            if mapped is None:
                raise
            raise mapped from exc


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def translate_graph(exc: BaseException) -> ProviderError | None:
    """The calbridge error for what a subscription call raised (None: not a provider failure)."""
    import httpx
    from azure.core.exceptions import ClientAuthenticationError
    from kiota_abstractions.api_error import APIError

    if isinstance(exc, APIError):
        status = int(exc.response_status_code or 0)
        detail = f"graph {status}"
        if status == 429:
            headers = exc.response_headers or {}
            return Throttled(float(headers.get("retry-after", 5) or 5), detail)
        if status >= 500 or status == 408:
            return TransientProviderError(detail)
        if status in (401, 403):
            return AccessDenied(detail)
        if status in (404, 410):
            return NotFound(detail)
        return PermanentProviderError(detail)
    if isinstance(exc, ClientAuthenticationError):
        return AccessDenied("microsoft token refused for this app")
    if isinstance(exc, (httpx.TransportError, OSError, TimeoutError)):
        return TransientProviderError(f"graph connection failed: {type(exc).__name__}")
    return None
