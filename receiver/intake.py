"""What every push provider's endpoint shares: the bus, the keys, the clock and the budget, and
how a notification is confirmed or refused.

A provider's endpoint (`receiver/google.py`, `receiver/graph.py`) parses its own protocol and
hands the events to `Intake.publish_then`, which answers 2xx only after the broker confirmed
them, or 503 with Retry-After when it could not within `ack_budget` (the provider delivers the
notification again). `Parser` is how a provider's module tells the app which routes it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from calbridge.bus.base import Bus
from calbridge.clock import Clock
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent, Provider
from calbridge.providers.profile import ProviderProfile
from calbridge.tokens import ExpiredToken, TokenError
from receiver.metrics import AUTH_FAILURES, notifications
from receiver.middleware import Endpoint
from receiver.publish import publish_confirmed
from receiver.refusals import Forbidden, Refused, UnsupportedMediaType

__all__ = ["RETRY_AFTER_SECONDS", "Intake", "Parser", "refuse", "refuse_token", "require_json", "trace_id"]

RETRY_AFTER_SECONDS = 5


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up per call so that logging configured later (or captured in tests) applies.
    return structlog.get_logger("calbridge.receiver")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Intake:
    bus: Bus
    keys: Mapping[str, bytes]
    clock: Clock
    ack_budget: float
    max_body_bytes: int

    async def publish_then(
        self,
        messages: Sequence[ChangeEvent | LifecycleEvent],
        provider: Provider,
        started: float,
        success: Response,
        *,
        accepted: int,
    ) -> Response:
        """`success` once the broker confirmed `messages`; 503 with Retry-After if it did not."""
        try:
            await publish_confirmed(self.bus, messages, started + self.ack_budget)
        except BusUnavailable:
            notifications(provider, "unavailable").inc(accepted)
            _log().warning("notification_not_confirmed", provider=str(provider), count=accepted)
            return PlainTextResponse(
                "the event bus could not confirm; retry later",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if accepted:
            notifications(provider, "accepted").inc(accepted)
        return success


@dataclass(frozen=True, slots=True)
class Parser:
    """One push provider's part of the receiver: its profile names the routes, `endpoint`
    builds the handler that parses what arrives on them."""

    profile: ProviderProfile
    endpoint: Callable[[Intake], Endpoint]

    @property
    def routes(self) -> tuple[str, ...]:
        paths = (self.profile.notification_path, self.profile.lifecycle_path)
        return tuple(path for path in paths if path is not None)


def trace_id(request: Request) -> str:
    return str(request.scope["state"]["trace_id"])


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("notifications are application/json")


def refuse_token(provider: Provider, exc: TokenError) -> Response:
    outcome = "expired" if isinstance(exc, ExpiredToken) else "forged"
    notifications(provider, outcome).inc()
    AUTH_FAILURES.labels(provider, exc.reason).inc()
    return refuse(Forbidden("notification could not be authenticated"), provider, reason=exc.reason)


def refuse(refusal: Refused, provider: Provider, *, reason: str | None = None) -> Response:
    _log().info(
        "notification_refused",
        provider=str(provider),
        status=refusal.status,
        reason=reason or type(refusal).__name__,
    )
    return PlainTextResponse(refusal.detail, status_code=refusal.status)
