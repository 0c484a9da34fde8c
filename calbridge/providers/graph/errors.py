"""Microsoft Graph failures as calbridge errors.

`classify` decides from the status and `Retry-After` alone (pure); `translate_exception` reads
them from what kiota, httpx or azure-identity raised. A 503 or 504 that names a wait is Outlook
shedding load, so it becomes Throttled with that wait; without one it is a transient failure.

The error's text keeps what Graph said: its error code and message (`graph 400 InvalidRequest:
NotificationUrl scheme='http' is not supported.`), so a log line or a pair's error says why, not
only that, a call failed. The client has the SDK parse Graph's error body (`ODataError`); the
message is cut to one line of `MESSAGE_LIMIT` characters with the query of any URL in it left
out, where a token or signature could travel.

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

__all__ = ["DEFAULT_BACKOFF", "MESSAGE_LIMIT", "classify", "describe", "request_id", "translate_exception"]


DEFAULT_BACKOFF = 5.0  # Graph says: without Retry-After, back off exponentially; the first step
MESSAGE_LIMIT = 200  # characters of Graph's message kept in an error's text
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]*)[?#][^\s'\"]*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

# Entra ID's answers that mean the connection's credential itself is refused, with what to say.
CREDENTIAL_CODES = {
    "7000215": "invalid client secret",
    "7000222": "the client secret has expired",
    "700016": "no such application in the tenant",
    "90002": "no such tenant",
}
_AADSTS = re.compile(r"AADSTS(\d+)")


def describe(status: int, code: str | None = None, message: str | None = None) -> str:
    """`graph <status> <code>: <message>`, as much of it as Graph said (pure)."""
    text = f"graph {status}"
    if code:
        text += f" {_one_line(code)[:64]}"
    if message:
        said = _one_line(_URL_QUERY.sub(r"\1?...", message))
        text += f": {said[:MESSAGE_LIMIT]}"
    return text


def classify(
    status: int,
    retry_after: str | None,
    *,
    on: Target,
    code: str | None = None,
    message: str | None = None,
) -> ProviderError:
    """The calbridge error for one failed Graph answer (pure); `code` and `message` are Graph's
    error code and message, when its answer had them."""
    detail = describe(status, code, message)
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
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    if isinstance(exc, APIError):
        headers = exc.response_headers or {}
        retry_after = _header(headers, "retry-after")
        said = exc.error if isinstance(exc, ODataError) else None
        return classify(
            int(exc.response_status_code or 0),
            retry_after,
            on=on,
            code=said.code if said is not None else None,
            message=said.message if said is not None else None,
        )
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


def request_id(exc: BaseException) -> str | None:
    """The `request-id` Graph gave a failed answer (Microsoft asks clients to log it), if any."""
    headers = getattr(exc, "response_headers", None)
    return _header(headers, "request-id") if headers is not None else None


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


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in text)).strip()


def _seconds(value: str | None) -> tuple[float, bool]:
    """The wait a Retry-After asks for, and whether one was given (Graph sends seconds)."""
    if value is None:
        return DEFAULT_BACKOFF, False
    try:
        return max(0.0, float(value)), True
    except ValueError:
        return DEFAULT_BACKOFF, False
