"""exchangelib's exceptions -> calbridge's provider errors, as one pure function.

exchangelib runs with the FailFast retry policy, so every server refusal surfaces here at once
and calbridge decides when to try again (no sleeps hidden in worker threads).

A mailbox or folder that does not exist is the calendar gone (`CalendarNotFound`), an item that
does not exist is one event gone (`NotFound`); a 401 is the service account's own credential
refused (`CredentialRefused`), an impersonation refusal a missing right (`AccessDenied`).
"""

from __future__ import annotations

import requests
from exchangelib import errors as ews

from calbridge.errors import (
    AccessDenied,
    CalendarNotFound,
    CredentialRefused,
    CursorExpired,
    NotFound,
    PermanentProviderError,
    ProviderError,
    Throttled,
    TransientProviderError,
)

__all__ = ["DEFAULT_BACK_OFF", "provider_error"]

# ErrorServerBusy without BackOffMilliseconds (and a bare 503): Microsoft only says "wait".
DEFAULT_BACK_OFF = 30.0

_CALENDAR_GONE = (ews.ErrorNonExistentMailbox, ews.ErrorFolderNotFound)
_NOT_FOUND = (ews.ErrorItemNotFound,)
_DENIED = (
    ews.ErrorAccessDenied,
    ews.ErrorImpersonateUserDenied,
    ews.ErrorImpersonationDenied,
)
_EXPIRED = (ews.ErrorInvalidSyncStateData,)
_TRANSIENT = (
    ews.ErrorTimeoutExpired,
    ews.ErrorInternalServerError,
    ews.ErrorInternalServerTransientError,
    ews.ErrorMailboxStoreUnavailable,
    ews.ErrorMailboxMoveInProgress,
    ews.ErrorConnectionFailed,
    ews.ErrorTooManyObjectsOpened,
    ews.ErrorExceededConnectionCount,
    # A change key went stale between read and write: re-reading and retrying resolves it.
    ews.ErrorIrresolvableConflict,
)


def provider_error(exc: BaseException) -> ProviderError:
    """The calbridge error for an exchangelib (or requests) exception; order matters: the
    specific EWS response codes are TransportError subclasses too."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ews.ErrorServerBusy):
        back_off = exc.back_off
        if back_off:
            return Throttled(float(back_off), "ErrorServerBusy")
        return Throttled(DEFAULT_BACK_OFF, "ErrorServerBusy", asked=False)
    if isinstance(exc, ews.RateLimitError):
        return Throttled(float(exc.wait), "rate limited")
    if isinstance(exc, _EXPIRED):
        return CursorExpired(type(exc).__name__)
    if isinstance(exc, ews.UnauthorizedError):
        return CredentialRefused("the EWS server refused the account's credential (401)")
    if isinstance(exc, _CALENDAR_GONE):
        return CalendarNotFound(type(exc).__name__)
    if isinstance(exc, _NOT_FOUND):
        return NotFound(type(exc).__name__)
    if isinstance(exc, _DENIED):
        return AccessDenied(type(exc).__name__)
    if isinstance(exc, _TRANSIENT):
        return TransientProviderError(type(exc).__name__)
    if isinstance(exc, ews.ResponseMessageError):
        return PermanentProviderError(type(exc).__name__)
    if isinstance(exc, (ews.TransportError, ews.CASError, requests.RequestException, OSError, TimeoutError)):
        # Connection refused/reset, TLS failures, 5xx without a SOAP fault, read timeouts.
        return TransientProviderError(type(exc).__name__)
    if isinstance(exc, ews.EWSError):
        return PermanentProviderError(type(exc).__name__)
    raise exc  # a bug, not a provider answer: let it crash loudly
