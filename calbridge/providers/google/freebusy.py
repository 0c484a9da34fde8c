"""Google Calendar `freeBusy.query` through the adapters' `GoogleClient`.

The client (the built Calendar v3 Resource, delegated credentials per subject, per-thread
authorised Http, its thread pool) is the one the sync uses, built once per connection. A call
acts as `mailbox` (a user of the domain: domain-wide delegation needs a real subject), or, when
none is configured, as the first address asked about. Google answers in RFC 3339 instants; the
requested zone is passed as `timeZone` so that Google renders them in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from calbridge.errors import (
    AccessDenied,
    PermanentProviderError,
    ProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, LookupOutcome

if TYPE_CHECKING:
    from calbridge.providers.google.client import GoogleClient
    from calbridge.providers.google.connection import GoogleConnection

__all__ = ["GoogleFreeBusySource", "open_google_source", "parse_freebusy", "provider_error"]

_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
DEFAULT_RETRY_AFTER = 1.0


class GoogleFreeBusySource:
    def __init__(self, client: GoogleClient, *, mailbox: str | None = None) -> None:
        self._client = client
        self._mailbox = mailbox

    @property
    def provider(self) -> Provider:
        return Provider.GOOGLE

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        body = {
            "timeMin": start.isoformat(),
            "timeMax": end.isoformat(),
            "timeZone": str(start.tzinfo),
            "items": [{"id": address} for address in addresses],
        }
        request = self._client.freebusy.query(body=body)
        try:
            reply = await self._client.execute(self._mailbox or addresses[0], request)
        except Exception as exc:
            raise _translate(exc) from None
        return parse_freebusy(reply, addresses)

    async def aclose(self) -> None:
        self._client.close()


def open_google_source(
    connection: GoogleConnection, *, mailbox: str | None = None, threads: int = 8, timeout: float = 30.0
) -> GoogleFreeBusySource:
    """A source over a stored Google connection, with the sync's own client setup."""
    from calbridge.providers.google.client import GoogleClient

    client = GoogleClient.for_connection(connection, threads=threads, timeout=timeout)
    return GoogleFreeBusySource(client, mailbox=mailbox)


def _translate(exc: Exception) -> Exception:
    """freeBusy's own reading of HTTP errors (a 403 for rate reasons throttles); the adapters'
    for everything else (token refusals, transport)."""
    from googleapiclient.errors import HttpError

    from calbridge.providers.google.errors import translate_exception

    if isinstance(exc, HttpError):
        return provider_error(exc.status_code, _reasons(exc), exc.resp.get("retry-after"))
    return translate_exception(exc, on="calendar") or exc


def _reasons(exc: Any) -> set[str]:
    details = getattr(exc, "error_details", None) or []
    return {str(d.get("reason")) for d in details if isinstance(d, dict) and d.get("reason")}


def provider_error(status: int, reasons: set[str], retry_after: str | None) -> ProviderError:
    """The calbridge error for a failed freeBusy call."""
    if status == 429 or (status == 403 and reasons & _RATE_REASONS):
        return Throttled(_seconds(retry_after), "google rate limit")
    if status in (401, 403):
        return AccessDenied("google refused free/busy access")
    if status >= 500:
        return TransientProviderError(f"google answered {status}")
    return PermanentProviderError(f"google answered {status}")


def _seconds(retry_after: str | None) -> float:
    if not retry_after:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


def parse_freebusy(reply: Mapping[str, Any], addresses: Sequence[str]) -> dict[str, LookupOutcome]:
    """freeBusy.query's `calendars` map -> an outcome per requested address."""
    calendars = {str(k).lower(): v for k, v in (reply.get("calendars") or {}).items()}
    outcomes: dict[str, LookupOutcome] = {}
    for address in addresses:
        entry = calendars.get(address.lower())
        if entry is None:
            outcomes[address] = AddressError(ErrorCode.PROVIDER_FAILED, "google did not answer for it")
            continue
        errors = entry.get("errors") or []
        if errors:
            reason = str(errors[0].get("reason", ""))
            if reason == "notFound":
                outcomes[address] = AddressError(
                    ErrorCode.UNKNOWN_ADDRESS, "google does not know this calendar"
                )
            elif reason in ("forbidden", "accessDenied"):
                outcomes[address] = AddressError(ErrorCode.NOT_PERMITTED, "google refused this calendar")
            else:
                outcomes[address] = AddressError(ErrorCode.PROVIDER_FAILED, f"google: {reason or 'error'}")
            continue
        outcomes[address] = BusyResult(
            tuple(
                Busy(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]), BusyStatus.BUSY)
                for b in entry.get("busy") or []
            )
        )
    return outcomes
