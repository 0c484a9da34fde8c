"""Errors that say what happened; every layer raises these, never bare Exceptions with strings."""

from __future__ import annotations

from typing import Literal

# What a failed provider call was about, so its error can say what is missing.
Target = Literal["listing", "event", "calendar"]


class CalbridgeError(Exception):
    """Base of every error calbridge raises on purpose."""


class ConfigurationError(CalbridgeError):
    """Settings are missing or invalid; the message names the variable to fix."""


class ConnectionInvalid(CalbridgeError):
    """A connection's settings or credentials are incomplete or malformed; the message says which."""


class ConnectionUnusable(ConfigurationError):
    """One stored connection cannot be opened: its secret does not decrypt with this process's
    CALBRIDGE_SECRET_KEY, or its stored settings are invalid. Only the pairs that use it are
    affected; `reason` names the connection and the remedy, for a person to act on."""

    def __init__(self, connection_id: str, name: str, reason: str) -> None:
        super().__init__(reason)
        self.connection_id = connection_id
        self.name = name
        self.reason = reason


class SecretKeyMismatch(ConfigurationError):
    """No connection this process needs decrypts with its CALBRIDGE_SECRET_KEY: the process is
    misconfigured (a wrong or missing key), not the connections, so no pair is blamed for it."""


class MalformedMessage(CalbridgeError):
    """A message on the bus cannot be decoded; it goes to the dead-letter queue with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedVersion(MalformedMessage):
    """A message carries an envelope version this build does not understand."""


class BusUnavailable(CalbridgeError):
    """The broker did not confirm in time or is unreachable; nothing may be acknowledged upstream."""


class ProviderError(CalbridgeError):
    """A provider call failed; subclasses say whether and when to try again."""


class Throttled(ProviderError):
    """The provider asked us to slow down (HTTP 429, a 503 with Retry-After, ErrorServerBusy).

    `retry_after` is the wait in seconds; `asked` says whether the provider named it (a
    Retry-After or BackOffMilliseconds) or it is only the first step of our own back-off."""

    def __init__(self, retry_after: float, detail: str = "", *, asked: bool = True) -> None:
        super().__init__(detail or f"throttled; retry after {retry_after:g}s")
        self.retry_after = retry_after
        self.asked = asked


class TransientProviderError(ProviderError):
    """5xx, timeouts, connection resets: worth retrying with backoff."""


class PermanentProviderError(ProviderError):
    """A request the provider will never accept as sent (4xx other than 404/409/410/429)."""


class AccessDenied(PermanentProviderError):
    """The app may not read or write this calendar (401/403, impersonation refused)."""


class CredentialRefused(AccessDenied):
    """The provider refused the connection's own credential (a wrong or expired client secret, a
    deleted service-account key, a wrong EWS password): no calendar of the connection can be
    used until the credential is replaced. Not a missing permission."""


class NotFound(ProviderError):
    """The event or calendar does not exist (any more) on the provider."""


class CalendarNotFound(NotFound):
    """The calendar itself (or its mailbox) is gone or no longer visible to the app: every event
    of it is affected, not one."""


class AlreadyExists(ProviderError):
    """A create met an existing object with the same client-chosen id (Google 409)."""


class CursorExpired(ProviderError):
    """The sync token, delta link or sync state is no longer valid; a full resync is needed."""


class PairPaused(CalbridgeError):
    """The pair is paused or in an error state and must not be processed."""

    def __init__(self, pair_id: str, reason: str) -> None:
        super().__init__(f"pair {pair_id} is paused: {reason}")
        self.pair_id = pair_id
        self.reason = reason
