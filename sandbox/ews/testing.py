"""Run the EWS emulator on an ephemeral loopback port in a background thread, for blocking clients
such as exchangelib in tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.ews.app import EWS_PATH, build_ews_app
from sandbox.ews.control import EwsControlClient
from sandbox.ews.state import EwsWorld
from sandbox.faults import Faults

__all__ = ["RunningEws", "serve_in_thread"]

T = TypeVar("T")


@dataclass
class RunningEws:
    base_url: str
    world: EwsWorld
    faults: Faults
    clock: Clock
    counters: Counters
    control: EwsControlClient
    loop: asyncio.AbstractEventLoop

    @property
    def ews_url(self) -> str:
        return self.base_url + EWS_PATH

    def in_loop(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop (the world is not thread-safe), bounded by a timeout."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=10)


@contextmanager
def serve_in_thread(world: EwsWorld, ssl_context: object | None = None) -> Iterator[RunningEws]:
    faults, clock, counters = Faults(seed=world.seed), world.clock, Counters()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ews-sandbox", daemon=True)
    thread.start()
    runner = web.AppRunner(build_ews_app(world, faults, clock, counters), shutdown_timeout=1)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)  # type: ignore[arg-type]
        await site.start()
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    scheme = "https" if ssl_context is not None else "http"
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        yield RunningEws(base, world, faults, clock, counters, EwsControlClient(base), loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def sample_world(minute_seconds: float = 0.5, seed: int = 7) -> EwsWorld:
    """alice, bob and carol; svc@example.com (Basic, password s3cret) may impersonate alice and bob."""
    world = EwsWorld(seed=seed, minute_seconds=minute_seconds)
    for address in ("alice@example.com", "bob@example.com", "carol@example.com"):
        world.add_mailbox(address)
    world.add_basic_user("svc@example.com", "s3cret")
    world.allow_impersonation("svc@example.com", "alice@example.com", "bob@example.com")
    return world


def basic_account(
    running: RunningEws,
    mailbox: str = "alice@example.com",
    password: str = "s3cret",
    retry_policy: object | None = None,
    max_connections: int = 4,
) -> object:
    """An exchangelib Account impersonating `mailbox` over Basic auth, fixed endpoint and version."""
    from exchangelib import BASIC, IMPERSONATION, Account, Configuration, Credentials, FailFast
    from exchangelib.version import EXCHANGE_2016, Version

    config = Configuration(
        service_endpoint=running.ews_url,
        credentials=Credentials("svc@example.com", password),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        retry_policy=retry_policy or FailFast(),
        max_connections=max_connections,
    )
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
