"""Run every emulator on loopback with ephemeral ports.

Tests start it in-process (`async with Sandbox.start(seed=7) as sb:`); the servers run on their
own event loop in a background thread, so synchronous SDK calls (google-api-python-client,
exchangelib) made straight from a test cannot stall them. `calbridge sandbox` runs the same
servers on the main loop. Google and the control API are plain HTTP (the Google libraries accept
it); the Microsoft side is HTTPS with the sandbox CA, because azure-identity requires it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog
from aiohttp import web

from sandbox.client import SandboxControl
from sandbox.clock import Clock
from sandbox.control import ControlPlane, add_control_routes
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.google import GoogleEmulator, GoogleUser, build_google_app
from sandbox.mounts import MOUNTS, Mount, load
from sandbox.people import (
    DOMAIN,
    EXTERNAL_GUEST,
    TEAM_CALENDAR,
    MicrosoftApp,
    SandboxUser,
    microsoft_app,
    sandbox_users,
)
from sandbox.tls import SandboxTLS

__all__ = ["Sandbox", "SandboxInfo", "SandboxServer"]

log = structlog.get_logger("sandbox")

GOOGLE_SCOPES = ["https://www.googleapis.com/auth/calendar"]
# How long stopping waits for requests still being handled before cancelling them (aiohttp's
# default is 60 s). The EWS emulator ends its held-open streams itself when shutting down; this
# bounds whatever else is running (an injected delay, a slow client).
SHUTDOWN_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SandboxInfo:
    """How to reach the sandbox: what `--connection-file` holds, and what tests read."""

    seed: int
    control_url: str
    google_base_url: str
    google_api_endpoint: str  # for ClientOptions(api_endpoint=...): includes /calendar/v3/
    google_token_uri: str
    google_batch_uri: str  # for BatchHttpRequest(batch_uri=...): the library ignores api_endpoint there
    google_service_account: dict[str, str]
    users: list[dict[str, str]]
    external_guest: str
    team_calendar: str
    ca_pem: str
    microsoft: dict[str, str]
    https_endpoints: dict[str, str] = field(default_factory=dict)  # provider -> base URL

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "control_url": self.control_url,
            "google": {
                "base_url": self.google_base_url,
                "api_endpoint": self.google_api_endpoint,
                "token_uri": self.google_token_uri,
                "batch_uri": self.google_batch_uri,
                "scopes": GOOGLE_SCOPES,
                "service_account": self.google_service_account,
                "team_calendar": self.team_calendar,
            },
            "microsoft": {**self.microsoft, "endpoints": self.https_endpoints},
            "ca_pem": self.ca_pem,
            "users": self.users,
            "external_guest": self.external_guest,
        }

    def write(self, path: Path) -> None:
        """Write atomically, so a reader polling for the file never sees half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sandbox-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.as_json(), handle, indent=2)
        os.chmod(tmp, 0o600)  # it holds a private key
        os.replace(tmp, path)


class SandboxServer:
    """All emulators and the control API, served from the current event loop."""

    def __init__(
        self, seed: int = 0, host: str = "127.0.0.1", http_port: int = 0, *, plain_http_webhooks: bool = False
    ) -> None:
        self.seed = seed
        # A local run's kindness, never the tests': Graph accepts plain-http webhooks on loopback.
        self.plain_http_webhooks = plain_http_webhooks
        self.host = host
        self.http_port = http_port
        self.clock = Clock()
        self.faults = Faults(seed=seed)
        self.counters = Counters()
        self.tls = SandboxTLS.create()
        self.users: list[SandboxUser] = sandbox_users()
        self.app_registration: MicrosoftApp = microsoft_app(seed)
        self.plane = ControlPlane(self.faults, self.clock, self.counters)
        self.google = GoogleEmulator.create(
            seed=seed,
            users=[GoogleUser(u.email, u.name, u.time_zone) for u in self.users],
            domains=(DOMAIN,),
            faults=self.faults,
            clock=self.clock,
            counters=self.counters,
            push_ssl=self.tls.client_context(),
        )
        self._add_team_calendar()
        self.plane.resets["google"] = self._reset_google
        self.optional: dict[str, _Served] = {}  # Microsoft-side emulators being served
        self._runners: list[web.AppRunner] = []

    def _add_team_calendar(self) -> None:
        acl = {f"alice@{DOMAIN}": "owner", f"bob@{DOMAIN}": "writer", f"carol@{DOMAIN}": "reader"}
        self.google.world.add_calendar(TEAM_CALENDAR, "Team", "Europe/Berlin", acl)
        self.google.world.calendars[f"bob@{DOMAIN}"].acl[f"alice@{DOMAIN}"] = "freeBusyReader"

    def _reset_google(self) -> None:
        self.google.reset()
        self._add_team_calendar()

    async def start(self) -> SandboxInfo:
        app = build_google_app(self.google)
        add_control_routes(app, self.plane)
        base, _ = await self._serve(app, self.http_port, tls=False)
        https = await self._mount_optional()
        microsoft: dict[str, str] = {
            "tenant_id": self.app_registration.tenant_id,
            "client_id": self.app_registration.client_id,
            "client_secret": self.app_registration.client_secret,
        }
        for name, url in https.items():
            microsoft.update(self.optional[name].mount.endpoints(url, self.app_registration))
        self.plane.endpoints.update({"google": base, **https})
        log.info("sandbox_started", google=base, https=sorted(https))
        return SandboxInfo(
            seed=self.seed,
            control_url=f"{base}/_control",
            google_base_url=base,
            google_api_endpoint=f"{base}/calendar/v3/",
            google_token_uri=f"{base}/token",
            google_batch_uri=f"{base}/batch/calendar/v3",
            google_service_account=self.google.account.info(f"{base}/token"),
            users=[{"email": u.email, "name": u.name, "time_zone": u.time_zone} for u in self.users],
            external_guest=EXTERNAL_GUEST,
            team_calendar=TEAM_CALENDAR,
            ca_pem=self.tls.ca_pem,
            microsoft=microsoft,
            https_endpoints=https,
        )

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def _serve(self, app: web.Application, port: int, *, tls: bool) -> tuple[str, web.AppRunner]:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, ssl_context=self.tls.server_context() if tls else None)
        await site.start()
        self._runners.append(runner)
        bound = runner.addresses[0][1]
        return f"{'https' if tls else 'http'}://{self.host}:{bound}", runner

    async def _start_optional(self, mount: Mount, module: ModuleType, world_class: Any, port: int = 0) -> str:
        """Populate a fresh world for a Microsoft-side emulator and serve it over HTTPS."""
        world = mount.populate(world_class, self.seed, self.users, self.app_registration)
        if hasattr(world, "notification_ssl"):  # webhooks to HTTPS receivers with sandbox certs
            world.notification_ssl = self.tls.client_context()
        if hasattr(world, "plain_http_loopback_webhooks"):
            world.plain_http_loopback_webhooks = self.plain_http_webhooks
        build = getattr(module, mount.builder)
        url, runner = await self._serve(build(world, self.faults, self.clock, self.counters), port, tls=True)
        self.optional[mount.name] = _Served(mount, module, world_class, world, runner, runner.addresses[0][1])
        if callable(getattr(world, "reset", None)):
            self.plane.resets[mount.name] = world.reset
        else:  # no reset of its own: serve a fresh world on the same port
            self.plane.resets[mount.name] = functools.partial(self._restart_optional, mount.name)
        return url

    async def _restart_optional(self, name: str) -> None:
        served = self.optional[name]
        await served.runner.cleanup()
        self._runners.remove(served.runner)
        await self._start_optional(served.mount, served.module, served.world_class, served.port)

    async def _mount_optional(self) -> dict[str, str]:
        """Microsoft-side emulators, mounted when their packages are present; name -> base URL."""
        urls: dict[str, str] = {}
        for mount in MOUNTS:
            loaded = load(mount)
            if loaded is None:
                log.info("sandbox_emulator_absent", provider=mount.name)
                continue
            try:
                urls[mount.name] = await self._start_optional(mount, *loaded)
            except (TypeError, AttributeError) as exc:  # an emulator whose interface moved on
                log.warning("sandbox_emulator_skipped", provider=mount.name, reason=str(exc))
        return urls


@dataclass
class _Served:
    mount: Mount
    module: ModuleType
    world_class: Any
    world: Any
    runner: web.AppRunner
    port: int


class _LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Sandbox:
    """A running sandbox: its connection info, shared clock/faults/counters and the emulators.

    The emulators' state lives on the sandbox's own loop: read it freely, change it through the
    control API (`sb.control()`), which also notifies push channels as a real change would.
    """

    def __init__(self, server: SandboxServer, info: SandboxInfo, ca_file: Path) -> None:
        self.server = server
        self.info = info
        self.ca_file = ca_file
        self.clock = server.clock
        self.faults = server.faults
        self.counters = server.counters
        self.google = server.google
        self.tls = server.tls

    @classmethod
    @asynccontextmanager
    async def start(cls, seed: int = 0, *, plain_http_webhooks: bool = False) -> AsyncIterator[Sandbox]:
        """`plain_http_webhooks`: let Graph deliver to plain-http receivers on loopback, which
        real Graph refuses. For a local demo only; tests never ask for it."""
        loop_thread = _LoopThread()
        server = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(_make_server(seed, plain_http_webhooks), loop_thread.loop)
        )
        try:
            info = await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(server.start(), loop_thread.loop)
            )
            with tempfile.TemporaryDirectory(prefix="calbridge-sandbox-") as folder:
                yield cls(server, info, _write_ca(Path(folder), info.ca_pem))
        finally:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(server.stop(), loop_thread.loop))
            await asyncio.to_thread(loop_thread.close)

    @classmethod
    @contextmanager
    def running(cls, seed: int = 0, *, plain_http_webhooks: bool = False) -> Iterator[Sandbox]:
        """The same, for synchronous code (a script, a sync test)."""
        loop_thread = _LoopThread()
        server = loop_thread.run(_make_server(seed, plain_http_webhooks))
        try:
            info = loop_thread.run(server.start())
            with tempfile.TemporaryDirectory(prefix="calbridge-sandbox-") as folder:
                yield cls(server, info, _write_ca(Path(folder), info.ca_pem))
        finally:
            loop_thread.run(server.stop())
            loop_thread.close()

    def control(self) -> SandboxControl:
        """A control-API client: `async with sb.control() as control: ...`."""
        return SandboxControl(self.info.control_url)

    def google_credentials(self, subject: str, scopes: list[str] | None = None) -> Any:
        """Service-account credentials impersonating `subject` (domain-wide delegation)."""
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            self.info.google_service_account, scopes=scopes or GOOGLE_SCOPES, subject=subject
        )

    def google_service(self, subject: str) -> Any:
        """A Calendar v3 Resource for `subject`, built from the library's static discovery doc."""
        from google.api_core.client_options import ClientOptions
        from googleapiclient.discovery import build

        return build(
            "calendar",
            "v3",
            credentials=self.google_credentials(subject),
            static_discovery=True,
            cache_discovery=False,
            client_options=ClientOptions(api_endpoint=self.info.google_api_endpoint),
        )


async def _make_server(seed: int, plain_http_webhooks: bool = False) -> SandboxServer:
    return SandboxServer(seed, plain_http_webhooks=plain_http_webhooks)  # built on the loop that serves it


def _write_ca(folder: Path, pem: str) -> Path:
    path = folder / "sandbox-ca.pem"
    path.write_text(pem)
    return path
