"""Microsoft Graph failures as calbridge errors.

`classify` decides from the status and `Retry-After` alone (pure); `translate_exception` reads
them from what kiota, httpx or azure-identity raised. A 503 or 504 that names a wait is Outlook
shedding load, so it becomes Throttled with that wait; without one it is a transient failure.
A 404 on a listing or a calendar is the calendar (or mailbox) gone: `CalendarNotFound`.

The token endpoint's refusals are told apart by their AADSTS code: a wrong or expired client
secret, or an app or tenant that does not exist, is `CredentialRefused` (replace the secret or
fix the connection), not a permission the admin forgot to grant (`AccessDenied`).
"""

from __future__ import annotations

import re
import ssl

from calbridge.errors import (
    AccessDenied,
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


DEFAULT_BACKOFF = 5.0  # Graph says: without Retry-After, back off exponentially; the first step

# Entra ID's answers that mean the connection's credential itself is refused, with what to say.
CREDENTIAL_CODES = {
    "7000215": "invalid client secret",
    "7000222": "the client secret has expired",
    "700016": "no such application in the tenant",
    "90002": "no such tenant",
}
_AADSTS = re.compile(r"AADSTS(\d+)")


def classify(status: int, retry_after: str | None, *, on: Target) -> ProviderError:
    """The calbridge error for one failed Graph answer (pure)."""
    detail = f"graph {status}"
    if status == 429:
        wait, asked = _seconds(retry_after)
        return Throttled(wait, detail, asked=asked)
    if status in (503, 504) and retry_after is not None:
        wait, asked = _seconds(retry_after)
        return Throttled(wait, detail, asked=asked)
    if status >= 500 or status == 408:
        return TransientProviderError(detail)
    if status in (401, 403):
        return AccessDenied(detail)
    if status == 404:
        return NotFound(detail) if on == "event" else CalendarNotFound(detail)
    if status == 410:
        return CursorExpired(detail) if on == "listing" else NotFound(detail)
    return PermanentProviderError(detail)


def translate_exception(exc: BaseException, *, on: Target) -> ProviderError | None:
    """The calbridge error for an exception a Graph call raised; None when it is not one of the
    libraries' (a bug should surface as itself)."""
    import httpx
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from kiota_abstractions.api_error import APIError

    if isinstance(exc, APIError):
        headers = exc.response_headers or {}
        retry_after = _header(headers, "retry-after")
        return classify(int(exc.response_status_code or 0), retry_after, on=on)
    if isinstance(exc, ClientAuthenticationError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 500:
            return TransientProviderError("microsoft token endpoint failed")
        return token_refusal(str(exc))
    if isinstance(exc, ServiceRequestError):
        return TransientProviderError("microsoft token endpoint unreachable")
    if isinstance(exc, httpx.TimeoutException):
        return TransientProviderError("graph call timed out")
    if isinstance(exc, (httpx.TransportError, ssl.SSLError, ConnectionError, TimeoutError)):
        return TransientProviderError(f"graph connection failed: {type(exc).__name__}")
    return None


def token_refusal(message: str) -> AccessDenied:
    """What a refused token request means, from the AADSTS code in its message (pure)."""
    for code in _AADSTS.findall(message):
        if code in CREDENTIAL_CODES:
            return CredentialRefused(
                f"microsoft refused the app's credential (AADSTS{code}: {CREDENTIAL_CODES[code]})"
            )
    return AccessDenied("microsoft token refused for this app")


def _header(headers: object, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name) or getter(name.title())
    if isinstance(value, (list, tuple, set)):
        value = next(iter(value), None)
    return str(value) if value is not None else None


def _seconds(value: str | None) -> tuple[float, bool]:
    """The wait a Retry-After asks for, and whether one was given (Graph sends seconds)."""
    if value is None:
        return DEFAULT_BACKOFF, False
    try:
        return max(0.0, float(value)), True
    except ValueError:
        return DEFAULT_BACKOFF, False
