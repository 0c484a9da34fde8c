"""Google Calendar `freeBusy.query` through google-api-python-client.

The client is synchronous and httplib2 is not thread-safe: each worker thread gets its own
authorised Http, while the built service (costly to build) and the credentials are shared.
Google answers in RFC 3339 instants; the requested zone is passed as `timeZone` so that
Google renders them in it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from calbridge.errors import (
    AccessDenied,
    PermanentProviderError,
    ProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, Outcome

__all__ = ["CALENDAR_SCOPE", "GoogleFreeBusySource", "open_google_source", "parse_freebusy", "provider_error"]

# The scope the sync already needs: one domain-wide delegation grant serves both.
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
DEFAULT_RETRY_AFTER = 1.0


class GoogleFreeBusySource:
    """`service` is `build("calendar", "v3", ...)`; `make_http` returns a fresh authorised Http
    (e.g. `lambda: AuthorizedHttp(credentials, http=httplib2.Http())`) for each thread."""

    def __init__(self, service: Any, make_http: Callable[[], Any] | None = None) -> None:
        self._service = service
        self._freebusy = service.freebusy()  # building a resource costs milliseconds: once
        self._make_http = make_http
        self._local = threading.local()
        self._shared = threading.Lock()  # without make_http all threads share the service's Http

    @property
    def provider(self) -> Provider:
        return Provider.GOOGLE

    async def query(self, addresses: Sequence[str], start: datetime, end: datetime) -> Mapping[str, Outcome]:
        body = {
            "timeMin": start.isoformat(),
            "timeMax": end.isoformat(),
            "timeZone": str(start.tzinfo),
            "items": [{"id": address} for address in addresses],
        }
        reply = await asyncio.to_thread(self._execute, body)
        return parse_freebusy(reply, addresses)

    def _execute(self, body: dict[str, Any]) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        try:
            if self._make_http is None:
                with self._shared:
                    return dict(self._freebusy.query(body=body).execute())
            http = getattr(self._local, "http", None)
            if http is None:
                http = self._local.http = self._make_http()
            return dict(self._freebusy.query(body=body).execute(http=http))
        except HttpError as exc:
            raise provider_error(exc.status_code, _reasons(exc), exc.resp.get("retry-after")) from None
        except (OSError, TimeoutError) as exc:
            raise TransientProviderError(f"google unreachable: {type(exc).__name__}") from None


def open_google_source(
    service_account_info: Mapping[str, Any],
    *,
    subject: str,
    api_endpoint: str | None = None,
    ca_file: str | None = None,
    scopes: Sequence[str] = (CALENDAR_SCOPE,),
) -> GoogleFreeBusySource:
    """A source acting as `subject` (domain-wide delegation). `api_endpoint` replaces the whole
    base URL (it must end in `/calendar/v3/`); the token endpoint is the key's `token_uri`, and
    tokens are fetched through the same per-thread Http, so `ca_file` is trusted for both."""
    import httplib2
    from google.api_core.client_options import ClientOptions
    from google.oauth2 import service_account
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        dict(service_account_info), scopes=list(scopes), subject=subject
    )
    service = build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options=ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None,
    )
    return GoogleFreeBusySource(
        service, make_http=lambda: AuthorizedHttp(credentials, http=httplib2.Http(ca_certs=ca_file))
    )


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


def parse_freebusy(reply: Mapping[str, Any], addresses: Sequence[str]) -> dict[str, Outcome]:
    """freeBusy.query's `calendars` map -> an outcome per requested address."""
    calendars = {str(k).lower(): v for k, v in (reply.get("calendars") or {}).items()}
    outcomes: dict[str, Outcome] = {}
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
