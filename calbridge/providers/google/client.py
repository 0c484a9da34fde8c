"""google-api-python-client set up once, and run off the event loop.

- `build()` from the static discovery document costs tens of milliseconds and `svc.events()`
  about two more on every call, so the Resource is built once per client and cached.
- Requests are built from that one Resource; each is executed with the caller's own
  `AuthorizedHttp` (`execute(http=...)`), which carries the delegated credentials of the
  calendar owner (domain-wide delegation: `subject` = owner).
- httplib2 is not thread-safe: each thread of the bounded pool owns one `httplib2.Http`, and
  one `AuthorizedHttp` per subject wrapping it. Credentials are shared between threads.
- With a `Pacing`, a throttled call waits as Google asks (per user: the quota is per user) and
  is made again; without one, `Throttled` reaches the caller at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from calbridge.errors import Target
from calbridge.providers.google.errors import translate_exception
from calbridge.providers.pacing import Pacing

if TYPE_CHECKING:
    from calbridge.providers.google.connection import GoogleConnection

__all__ = ["GOOGLE_SCOPES", "GoogleClient", "discovery_service"]

log = structlog.get_logger(__name__)

GOOGLE_SCOPES = ("https://www.googleapis.com/auth/calendar",)

T = TypeVar("T")


class GoogleClient:
    """The cached Calendar v3 Resource, delegated credentials per subject, and a thread pool."""

    @classmethod
    def for_connection(
        cls, connection: GoogleConnection, *, threads: int = 8, timeout: float = 30.0
    ) -> GoogleClient:
        """A client for a stored connection: its key, endpoint, token URI and CA."""
        return cls(
            connection.service_account_info(),
            api_endpoint=connection.api_endpoint,
            token_uri=connection.token_uri,
            ca_file=connection.ca_file,
            threads=threads,
            timeout=timeout,
        )

    def __init__(
        self,
        service_account_info: dict[str, Any],
        *,
        api_endpoint: str | None = None,
        token_uri: str | None = None,
        ca_file: str | None = None,
        threads: int = 8,
        timeout: float = 30.0,
        pacing: Pacing | None = None,
    ) -> None:
        from google.oauth2 import service_account

        info = dict(service_account_info)
        if token_uri:
            info["token_uri"] = token_uri
        self._base = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(GOOGLE_SCOPES)
        )
        self._ca_file = ca_file
        self._timeout = timeout
        self._pacing = pacing
        # The Resource only builds requests: each is executed with a per-thread http below.
        service = discovery_service(
            "calendar", "v3", api_endpoint=api_endpoint, ca_file=ca_file, timeout=timeout
        )
        self.events = service.events()
        self.calendars = service.calendars()
        self.channels = service.channels()
        self.freebusy = service.freebusy()  # free/busy lookups share the client (calbridge.freebusy)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="google")
        self._local = threading.local()
        self.credentials_for = lru_cache(maxsize=4096)(self._credentials_for)

    def _credentials_for(self, subject: str) -> Any:
        return self._base.with_subject(subject)

    def _http_for(self, subject: str) -> Any:
        """This thread's AuthorizedHttp for `subject` (httplib2 objects never cross threads)."""
        import google_auth_httplib2
        import httplib2

        cache: dict[str, Any] | None = getattr(self._local, "authorized", None)
        if cache is None:
            self._local.http = httplib2.Http(timeout=self._timeout, ca_certs=self._ca_file)
            cache = self._local.authorized = {}
        found = cache.get(subject)
        if found is None:
            if len(cache) >= 1024:  # many owners: keep the per-thread map bounded
                cache.clear()
            found = cache[subject] = google_auth_httplib2.AuthorizedHttp(
                self.credentials_for(subject), http=self._local.http
            )
        return found

    async def execute(self, subject: str, request: Any) -> Any:
        """Run a built request as `subject` in the pool; the library's own retries are off
        (retrying is the caller's policy)."""
        return await self.run(lambda: request.execute(http=self._http_for(subject), num_retries=0))

    async def call(self, subject: str, request: Any, *, on: Target) -> Any:
        """`execute`, with failures raised as calbridge errors (see `google_errors`); throttled
        calls paced per subject when the client has a `Pacing`."""
        if self._pacing is None:
            return await self._call_once(subject, request, on)
        return await self._pacing.call("google", subject, lambda: self._call_once(subject, request, on))

    async def _call_once(self, subject: str, request: Any, on: Target) -> Any:
        try:
            return await self.execute(subject, request)
        except Exception as exc:
            error = translate_exception(exc, on=on)
            if error is None:
                raise
            log.info(
                "google.call_failed", operation=getattr(request, "methodId", ""), error=type(error).__name__
            )
            raise error from exc

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def discovery_service(
    api: str, version: str, *, api_endpoint: str | None, ca_file: str | None, timeout: float
) -> Any:
    """A Google API's Resource from the library's static discovery document (no fetch), pointed at
    `api_endpoint` when given (the sandbox, a proxy) and trusting `ca_file`."""
    import httplib2
    from google.api_core.client_options import ClientOptions
    from googleapiclient.discovery import build

    return build(
        api,
        version,
        http=httplib2.Http(timeout=timeout, ca_certs=ca_file),
        static_discovery=True,
        cache_discovery=False,
        client_options=ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None,
    )
