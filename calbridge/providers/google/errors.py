"""Google Calendar API failures as calbridge errors.

`classify` is a pure decision over what the answer said (status, reasons, Retry-After);
`translate_exception` reads those from whatever google-api-python-client, google-auth or
httplib2 raised. The `on` argument says what was being addressed: a 410 on a listing is an
expired sync token, on an event it means the event is gone; a 404 on a listing or a calendar
means the calendar itself is gone or no longer shared with the user (`CalendarNotFound`).

A server error that names a wait (`Retry-After` on a 503, as Google's front ends send when
shedding load) is throttling, waited out as asked; without one it is a transient failure.
`forbiddenForNonOrganizer` is about one event (a guest's copy), not the calendar, so it is not
an access problem of the pair. A refused service-account key (deleted or disabled: "Invalid JWT
Signature", `invalid_client`) is `CredentialRefused`: no permission grant can fix it.
"""

from __future__ import annotations

import json
import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from calbridge.errors import (
    AccessDenied,
    AlreadyExists,
    CalendarNotFound,
    CredentialRefused,
    CursorExpired,
    NotFound,
    PermanentProviderError,
    ProviderError,
    Target,
    Throttled,
    TransientProviderError,
)

__all__ = ["DEFAULT_BACKOFF", "classify", "translate_exception"]


# Google's guidance is exponential backoff without a server hint; this is the first step.
DEFAULT_BACKOFF = 5.0
# dailyLimitExceeded: the project's requests per day (1,000,000 since 2026) are spent.
_RATE_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)
_EVENT_REASONS = frozenset({"forbiddenForNonOrganizer"})  # refusals about one event, not the calendar
_KEY_REFUSED = ("Invalid JWT Signature", "invalid_client")


def classify(
    status: int,
    reasons: tuple[str, ...],
    retry_after: str | None,
    *,
    on: Target,
    now: datetime | None = None,
) -> ProviderError:
    """The calbridge error for one failed answer (pure; `now` reads an HTTP-date Retry-After)."""
    if status == 429 or (status == 403 and _RATE_REASONS.intersection(reasons)):
        wait, asked = _seconds(retry_after, now)
        return Throttled(wait, f"google {status} {','.join(reasons) or 'throttled'}", asked=asked)
    detail = f"google {status} {','.join(reasons)}".strip()
    if status >= 500 and retry_after is not None:
        wait, asked = _seconds(retry_after, now)
        return Throttled(wait, detail, asked=asked)
    if status >= 500 or status == 408:
        return TransientProviderError(detail)
    if status == 403 and _EVENT_REASONS.intersection(reasons):
        return PermanentProviderError(detail)
    if status in (401, 403):
        return AccessDenied(detail)
    if status == 404:
        return NotFound(detail) if on == "event" else CalendarNotFound(detail)
    if status == 409:
        return AlreadyExists(detail)  # a client-chosen id that exists already
    if status == 410:
        return CursorExpired(detail) if on == "listing" else NotFound(detail)
    return PermanentProviderError(detail)


def translate_exception(exc: BaseException, *, on: Target) -> ProviderError | None:
    """The calbridge error for an exception a Google call raised; None when it is not one of
    the library's (a bug should surface as itself)."""
    from google.auth import exceptions as auth_errors
    from googleapiclient.errors import HttpError
    from httplib2 import HttpLib2Error

    if isinstance(exc, HttpError):
        headers = exc.resp if exc.resp is not None else {}
        retry_after = headers.get("retry-after")
        return classify(int(exc.resp.status), _reasons(exc), retry_after, on=on)
    if isinstance(exc, auth_errors.RefreshError):
        # invalid_grant / unauthorized_client: the domain has not delegated to this client,
        # or the subject is not a user of the domain. Anything else is the token server failing.
        text = str(exc)
        if any(marker in text for marker in _KEY_REFUSED):
            return CredentialRefused("google refused the service account key")
        if "invalid_grant" in text or "unauthorized_client" in text or "access_denied" in text:
            return AccessDenied("google token refused for this subject")
        return TransientProviderError("google token endpoint failed")
    if isinstance(exc, auth_errors.TransportError):
        return TransientProviderError("google token endpoint unreachable")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TransientProviderError("google call timed out")
    if isinstance(exc, (ConnectionError, HttpLib2Error, ssl.SSLError, OSError)):
        return TransientProviderError(f"google connection failed: {type(exc).__name__}")
    return None


def _reasons(exc: object) -> tuple[str, ...]:
    details = getattr(exc, "error_details", None)
    if isinstance(details, list):
        found = tuple(str(d.get("reason", "")) for d in details if isinstance(d, dict))
        if any(found):
            return tuple(r for r in found if r)
    content = getattr(exc, "content", b"")
    try:
        errors = json.loads(content)["error"]["errors"]
        return tuple(str(e.get("reason", "")) for e in errors if e.get("reason"))
    except (ValueError, KeyError, TypeError):
        return ()


def _seconds(value: str | None, now: datetime | None = None) -> tuple[float, bool]:
    """The wait a Retry-After asks for (delta-seconds or an HTTP-date), and whether one was
    given at all; without a usable one, the first step of our own back-off."""
    if value is None:
        return DEFAULT_BACKOFF, False
    try:
        return max(0.0, float(value)), True
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_BACKOFF, False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), True
