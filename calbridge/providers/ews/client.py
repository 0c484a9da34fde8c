"""exchangelib plumbing for the EWS adapter: credentials, endpoint (fixed or autodiscovered and
cached), one Account per mailbox, and a bounded thread pool that runs the blocking calls.

exchangelib is synchronous (requests) and spends its time building and parsing XML, so calls run
in a small pool (`CALBRIDGE_EWS_THREADS`); more threads than cores buys little. Every call's
wall and CPU time (`time.thread_time` in the worker) go to Prometheus, so the cost per call is
visible in production, not just in `bench/ews.py`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog
from exchangelib import (
    BASIC,
    IMPERSONATION,
    NTLM,
    Account,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    OAuth2Credentials,
)
from exchangelib.autodiscover import discover
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.version import EXCHANGE_2016, Build, Version
from prometheus_client import Histogram

from calbridge.errors import ConfigurationError
from calbridge.metrics import REGISTRY
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.ews.errors import provider_error
from calbridge.providers.ews.tls import trust_ca
from calbridge.settings import Settings

__all__ = ["EwsClient", "EwsEndpoint", "TokenUrlOAuth2Credentials"]

log = structlog.get_logger(__name__)
T = TypeVar("T")

CALL_SECONDS = Histogram(
    "calbridge_ews_call_seconds",
    "Wall time of one exchangelib call in the EWS worker pool, by operation.",
    ["operation"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CALL_CPU_SECONDS = Histogram(
    "calbridge_ews_call_cpu_seconds",
    "CPU time the worker thread spent on one exchangelib call (XML building and parsing), by operation.",
    ["operation"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)


class TokenUrlOAuth2Credentials(OAuth2Credentials):  # type: ignore[misc]
    """Client credentials against any token endpoint (exchangelib hard-codes Microsoft's)."""

    def __init__(self, *args: Any, token_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token_url = token_url

    @property
    def token_url(self) -> str:
        return self._token_url


@dataclass(frozen=True, slots=True)
class EwsEndpoint:
    """How to reach one Exchange organisation. `ews_url` None means autodiscover (optionally at a
    known `autodiscover_url`, else exchangelib's DNS-based steps)."""

    username: str  # the service account (Basic/NTLM) or the OAuth client id
    secret: str = field(repr=False)  # its password or client secret
    auth: Literal["basic", "ntlm", "oauth"] = "basic"
    ews_url: str | None = None
    autodiscover_url: str | None = None
    version: Build = EXCHANGE_2016
    tenant_id: str | None = None  # OAuth
    token_url: str | None = None  # OAuth endpoint other than login.microsoftonline.com
    ca_file: str | None = None  # a private CA the endpoints' certificates are checked against

    @classmethod
    def from_connection(cls, connection: EwsConnection) -> EwsEndpoint:
        """The endpoint of a stored EWS connection (`calbridge connections add ews`)."""
        oauth = connection.auth == "oauth"
        return cls(
            username=(connection.client_id if oauth else connection.username) or "",
            secret=connection.password,
            auth=connection.auth,
            ews_url=connection.url,
            autodiscover_url=connection.autodiscover_url,
            tenant_id=connection.tenant_id,
            token_url=connection.token_url,
            ca_file=connection.ca_file,
        )

    def credentials(self, mailbox: str) -> Any:
        if self.auth == "oauth":
            if not self.tenant_id:
                raise ConfigurationError("an OAuth EWS connection needs a tenant id")
            kwargs: dict[str, Any] = {
                "client_id": self.username,
                "client_secret": self.secret,
                "tenant_id": self.tenant_id,
                "identity": Identity(primary_smtp_address=mailbox),
            }
            if self.token_url:
                return TokenUrlOAuth2Credentials(token_url=self.token_url, **kwargs)
            return OAuth2Credentials(**kwargs)
        return Credentials(self.username, self.secret)

    @property
    def auth_type(self) -> str | None:
        return {"basic": BASIC, "ntlm": NTLM}.get(self.auth)  # OAuth credentials set their own


@dataclass(slots=True)
class _Cached:
    account: Account
    endpoint: str
    found_at: float


class EwsClient:
    """Accounts by mailbox over one connection, and the pool their calls run in."""

    def __init__(
        self,
        connection: EwsEndpoint,
        *,
        threads: int = 4,
        autodiscover_refresh: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self._threads = threads
        self._refresh = autodiscover_refresh
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ews")
        self._accounts: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        if connection.ca_file:
            trust_ca(
                connection.ca_file, connection.ews_url, connection.autodiscover_url, connection.token_url
            )

    @classmethod
    def from_settings(cls, connection: EwsEndpoint, settings: Settings) -> EwsClient:
        return cls(
            connection, threads=settings.ews_threads, autodiscover_refresh=settings.ews_autodiscover_refresh
        )

    async def run(self, operation: str, fn: Callable[[], T]) -> T:
        """Run a blocking exchangelib call in the pool; its errors come back as calbridge's."""

        def timed() -> T:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn()
            finally:
                CALL_SECONDS.labels(operation).observe(time.perf_counter() - wall)
                CALL_CPU_SECONDS.labels(operation).observe(time.thread_time() - cpu)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, timed)
        except Exception as exc:
            raise provider_error(exc) from exc

    def account(self, mailbox: str) -> Account:
        """The cached Account impersonating `mailbox` (blocking: autodiscover may run). Call in the pool."""
        key = mailbox.lower()
        with self._lock:
            cached = self._accounts.get(key)
            if cached is not None and (
                self.connection.ews_url is not None or self._clock() - cached.found_at < self._refresh
            ):
                return cached.account
        endpoint, version = self._endpoint(mailbox)
        with self._lock:
            cached = self._accounts.get(key)
            if cached is not None and cached.endpoint == endpoint:
                cached.found_at = self._clock()
                return cached.account
            account = self._new_account(mailbox, endpoint, version)
            self._accounts[key] = _Cached(account, endpoint, self._clock())
            return account

    def forget(self, mailbox: str) -> None:
        """Drop a mailbox's Account (after its endpoint moved or its access changed)."""
        with self._lock:
            self._accounts.pop(mailbox.lower(), None)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for cached in self._accounts.values():
                cached.account.protocol.close()
            self._accounts.clear()

    def _endpoint(self, mailbox: str) -> tuple[str, Version]:
        found, version = self._discover(mailbox)
        if self.connection.ca_file:
            trust_ca(self.connection.ca_file, found)
        return found, version

    def _discover(self, mailbox: str) -> tuple[str, Version]:
        conn = self.connection
        if conn.ews_url is not None:
            return conn.ews_url, Version(build=conn.version)
        credentials = conn.credentials(mailbox)
        if conn.autodiscover_url is not None:
            protocol = AutodiscoverProtocol(
                config=Configuration(
                    service_endpoint=conn.autodiscover_url,
                    credentials=credentials,
                    auth_type=conn.auth_type,
                    retry_policy=FailFast(),
                )
            )
            found = protocol.get_user_settings(user=mailbox)
            if isinstance(found, Exception):
                raise found
            log.info("ews.autodiscovered", via="url")
            return str(found.ews_url), found.version
        _, protocol = discover(
            mailbox, credentials=credentials, auth_type=conn.auth_type, retry_policy=FailFast()
        )
        log.info("ews.autodiscovered", via="dns")
        return str(protocol.service_endpoint), protocol.version

    def _new_account(self, mailbox: str, endpoint: str, version: Version) -> Account:
        config = Configuration(
            service_endpoint=endpoint,
            credentials=self.connection.credentials(mailbox),
            auth_type=self.connection.auth_type,
            version=version,
            retry_policy=FailFast(),  # calbridge's bus retries; no sleeps inside the pool
            max_connections=self._threads,
        )
        account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
        keep_pool_size(account.protocol)
        return account


def keep_pool_size(protocol: Any) -> None:
    """Stop exchangelib from shrinking a protocol's session pool when the server is busy.

    exchangelib takes one session out of the pool on every ErrorServerBusy (a bare 503 too) and
    never puts it back. Its shrink holds the pool's lock while it waits for a free session, and
    that wait, finding the pool empty below its maximum, grows the pool under the same lock,
    which is not reentrant: the thread waits for itself, and every later call of the connection
    queues behind it for ever (exchangelib 5.6, `BaseProtocol.decrease_poolsize`). calbridge runs
    exchangelib FailFast and backs off on the bus, and its pool of `ews_threads` threads already
    bounds the calls in flight, so the session pool keeps its size.
    """
    protocol.decrease_poolsize = _keep_size


def _keep_size() -> None:
    return None
