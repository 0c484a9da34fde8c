"""Google Calendar push channels through google-api-python-client: `events.watch` and
`channels.stop`.

A channel cannot be renewed. The renewer creates a new channel (new id, new token bound to
that id) before the old one expires and then stops the old one; both deliver for a moment,
which is harmless because every notification is only a hint.

The channel asks for a lifetime with both `params.ttl` (seconds) and `expiration` (Unix ms);
Google grants the more restrictive of those and its own limit, so the granted `expiration` of
the answer is what is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

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
from calbridge.providers.subscriptions import CannotRenew, Subscribed, SubscriptionHandle

__all__ = ["GoogleCalls", "GoogleWatch"]


class GoogleCalls(Protocol):
    """What this module needs of a Google client: the Resources that build requests and a way
    to execute one as a delegated user (domain-wide delegation: subject = calendar owner)."""

    events: Any
    channels: Any

    async def execute(self, subject: str, request: Any) -> Any: ...


class GoogleWatch:
    provider = Provider.GOOGLE
    renewable = False

    def __init__(
        self, client: GoogleCalls, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._client = client
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
        ttl = max(1, int((expiry - self._clock()).total_seconds()))
        body = {
            "id": subscription_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "expiration": int(expiry.timestamp() * 1000),
            "params": {"ttl": str(ttl)},
        }
        request = self._client.events.watch(calendarId=calendar.calendar, body=body)
        answer = await self._call(calendar.owner, request)
        return Subscribed(
            provider_id=str(answer["resourceId"]),
            expires_at=datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC),
        )

    async def renew(self, subscription: SubscriptionHandle, new_expiry: datetime) -> datetime:
        raise CannotRenew("a Google channel cannot be renewed; create a new one")

    async def stop(self, subscription: SubscriptionHandle) -> None:
        body = {"id": subscription.id, "resourceId": subscription.provider_id}
        await self._call(subscription.calendar.owner, self._client.channels.stop(body=body))

    async def _call(self, subject: str, request: Any) -> Any:
        try:
            return await self._client.execute(subject, request)
        except Exception as exc:
            mapped = translate_google(exc)
            if mapped is None:
                raise
            raise mapped from exc


def translate_google(exc: BaseException) -> ProviderError | None:
    """The calbridge error for what a channel call raised (None: not a provider failure)."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        detail = f"google {status}"
        if status == 429 or (status == 403 and b"RateLimitExceeded" in (exc.content or b"")):
            return Throttled(float(exc.resp.get("retry-after", 5) or 5), detail)
        if status >= 500 or status == 408:
            return TransientProviderError(detail)
        if status in (401, 403):
            return AccessDenied(detail)
        if status in (404, 410):
            return NotFound(detail)
        return PermanentProviderError(detail)
    if isinstance(exc, (OSError, TimeoutError)):
        return TransientProviderError(f"google connection failed: {type(exc).__name__}")
    return None
