"""The whole system in one process, for the demo: sandbox, store, bus, receiver (over HTTPS on a
loopback port, with a certificate from the sandbox's CA, so the sandbox's pushes reach it as a
provider's would: Graph notifies only HTTPS addresses), processor, renewer.

Each service is started through its own library API. A service this build does not have yet is
recorded in `Stack.missing` with the reason, and the demo skips what needs it instead of
failing. Keys are made for this run only: signing keys for subscription tokens, the key that
encrypts stored connection secrets and a free/busy API key; none is ever printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calbridge.connections import Connection
from calbridge.logs import get_logger
from calbridge.providers.registry import Registry
from calbridge.settings import ENV_PREFIX, Settings, load_settings
from calbridge_app.demo.provision import add_pairs, forget_previous_run, resolve_calendars, save_connections

__all__ = ["Stack", "StackOptions", "running_stack"]

SANDBOX_SEED = 7


def _log() -> Any:
    return get_logger("calbridge_app.demo")


@dataclass(frozen=True, slots=True)
class StackOptions:
    seed: int = SANDBOX_SEED
    renewer_interval: float = 1.0  # seconds between renewer passes: subscriptions appear at once
    subscribe_timeout: float = 20.0  # how long to wait for every watched calendar's subscription
    processors: int = 2  # in-process processors (the benchmark runs its own as separate processes)
    provision: bool = True  # add the demo's pairs (the benchmark adds its own)
    environ: Mapping[str, str] | None = None  # where CALBRIDGE_AMQP_URL / _DATABASE_URL are read
    overrides: Mapping[str, object] = field(default_factory=dict)  # settings fields, over all else


@dataclass
class Stack:
    """What is running, and where; `missing` maps a piece or calendar name to why it is absent."""

    settings: Settings
    folder: Path
    sandbox: Any
    engine: Any
    bus: Any
    receiver_url: str
    registry: Registry  # the adapters of this process (one shared mailbox cap per provider)
    freebusy_key: str | None = None
    connections: dict[str, Connection] = field(default_factory=dict)  # provider -> connection
    calendar_ids: dict[str, str] = field(default_factory=dict)  # calendar name -> provider id
    pair_ids: dict[str, str] = field(default_factory=dict)  # demo pair name -> stored pair id
    pair_errors: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    processors: list[Any] = field(default_factory=list)
    connection_file: Path | None = None
    freebusy: Any = None  # calbridge.freebusy.deploy.DeployedLookup

    @property
    def store_label(self) -> str:
        url = self.settings.database_url.get_secret_value()
        return "PostgreSQL" if url.startswith("postgresql") else "SQLite (temporary)"

    @property
    def bus_label(self) -> str:
        return "RabbitMQ" if self.settings.amqp_url is not None else "in-process memory bus"


# --- settings and keys


def demo_settings(
    folder: Path,
    receiver_url: str,
    environ: Mapping[str, str] = os.environ,
    extra: Mapping[str, object] | None = None,
) -> Settings:
    """Embedded defaults (SQLite in `folder`, the memory bus) unless the environment names
    RabbitMQ or PostgreSQL; keys made for this run."""
    from calbridge.secretbox import generate_key

    overrides: dict[str, object] = {
        "signing_keys": f"demo:{secrets.token_urlsafe(32)}",
        "secret_key": generate_key(),
        "public_url": receiver_url,
        "log_level": environ.get(f"{ENV_PREFIX}LOG_LEVEL", "error"),
        "log_format": environ.get(f"{ENV_PREFIX}LOG_FORMAT", "console"),
    }
    # Read from `environ` here: settings would otherwise read the process environment.
    overrides["database_url"] = environ.get(
        f"{ENV_PREFIX}DATABASE_URL", f"sqlite+aiosqlite:///{folder / 'calbridge.db'}"
    )
    overrides["amqp_url"] = environ.get(f"{ENV_PREFIX}AMQP_URL") or None
    overrides["freebusy_keys"] = f"demo:{secrets.token_urlsafe(32)}"
    if "ews_listener_refresh" in Settings.model_fields:
        overrides["ews_listener_refresh"] = 1.0  # pick up the demo's EWS pair at once
    overrides.update(extra or {})
    return load_settings(**overrides)


def _bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _has_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return False
        raise
    return True


# --- the receiver


class _EmbeddedServer:
    """uvicorn serving an app over HTTPS on an already bound socket, leaving the process's
    signals alone. `pem` holds the server's key and certificate chain."""

    def __init__(self, app: Any, sock: socket.socket, pem: Path) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # the demo owns Ctrl-C
                yield

        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            ssl_certfile=str(pem),
            ssl_keyfile=str(pem),
        )
        self._server = Server(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError("the receiver stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)


def _receiver_certificate(sandbox: Any, folder: Path) -> Path:
    """A certificate for 127.0.0.1 from the sandbox's CA, which its emulators trust as the real
    services trust public CAs; key and chain in one file, readable by this user only."""
    pem = folder / "receiver.pem"
    pem.touch(mode=0o600)
    pem.write_bytes(sandbox.tls.issue("127.0.0.1").private_key_and_cert_chain_pem.bytes())
    return pem


def _receiver_app(stack: Stack) -> Any:
    """The receiver, serving the free/busy API too (its sources open once pairs exist)."""
    from calbridge.freebusy.deploy import deployed_lookup
    from receiver.app import create_app

    stack.freebusy = deployed_lookup(stack.settings)
    if stack.freebusy is None or stack.settings.freebusy_keys is None:
        stack.missing["freebusy"] = "the free/busy API has no keys"
        return create_app(stack.settings, stack.bus)
    first = stack.settings.freebusy_keys.get_secret_value().split(",", 1)[0]
    stack.freebusy_key = first.split(":", 1)[1]
    return create_app(
        stack.settings, stack.bus, freebusy=stack.freebusy.lookup, meetings=stack.freebusy.meetings
    )


# --- processor and renewer


async def _start_processors(stack: Stack, stop: contextlib.AsyncExitStack, count: int) -> None:
    """`count` processors. On RabbitMQ they share the shards among themselves (membership, as
    replicas do); on the memory bus each takes a fixed share."""
    if count == 0:
        return
    if not _has_module("processor.service"):
        stack.missing["processor"] = "the processor service is not in this build"
        return
    from processor.opening import store_opener
    from processor.service import Processor

    shard_count = stack.settings.shard_count
    for n in range(count):
        shards = None if stack.settings.amqp_url is not None else list(range(n, shard_count, count))
        worker = Processor(
            stack.settings,
            stack.bus,
            stack.engine,
            store_opener(stack.engine, stack.settings, stack.registry),
            shards=shards,
        )
        await worker.start()
        stop.push_async_callback(worker.stop)
        stack.processors.append(worker)
    stack.started.append("processor" if count == 1 else f"{count} processors")


async def _start_renewer(stack: Stack, stop: contextlib.AsyncExitStack, interval: float) -> None:
    """The renewer as `calbridge renewer` composes it (`subscriptions.service`), minus its own
    bus, store and probe server: a pass every `interval` seconds, and Graph lifecycle events
    from the shared bus."""
    if not _has_module("subscriptions.renewer") or not _has_module("subscriptions.wiring"):
        stack.missing["renewer"] = "the renewer is not in this build (nothing subscribes to calendars)"
        return
    import random
    from datetime import UTC, datetime

    from calbridge.secretbox import open_secretbox
    from subscriptions.renewer import Endpoints, Renewer, policy_from, run_loop
    from subscriptions.wiring import ConnectionProviders

    def now() -> datetime:
        return datetime.now(UTC)

    settings = stack.settings
    providers = ConnectionProviders(stack.engine, open_secretbox(settings), now, stack.registry)
    stop.push_async_callback(providers.close)
    renewer = Renewer(
        stack.engine,
        stack.bus,
        providers,
        keys=settings.signing_key_map(),
        endpoints=Endpoints.under(stack.receiver_url),
        policy=policy_from(settings),
        clock=now,
        rng=random.Random(),
    )

    async def tick() -> None:
        await providers.refresh()  # connections saved since the last pass
        await renewer.tick()

    consumer = await stack.bus.consume_lifecycle(renewer.handle_lifecycle)
    stop.push_async_callback(consumer.stop)
    halt = asyncio.Event()
    loop = asyncio.create_task(run_loop(tick, halt, interval))

    async def stop_loop() -> None:
        halt.set()
        await loop

    stop.push_async_callback(stop_loop)
    stack.started.append("renewer")


async def _start_ews_listener(stack: Stack, stop: contextlib.AsyncExitStack) -> None:
    """The EWS streaming listener as `calbridge ews-listener` composes it: streams Exchange's
    changes of every active EWS pair to the bus (the shared one here)."""
    if not _has_module("ews_listener.stream") or "ews" in stack.missing:
        stack.missing["ews-listener"] = (
            "no EWS streaming listener in this build: changes made in Exchange are not noticed"
        )
        return
    from calbridge.secretbox import open_secretbox
    from calbridge_app.cli.ews_listener import listener_tuning
    from ews_listener.accounts import ListenerFolders
    from ews_listener.stream import EwsListener

    settings = stack.settings
    box = open_secretbox(settings)
    folders = ListenerFolders(
        [], streams=settings.ews_listener_streams, autodiscover_refresh=settings.ews_autodiscover_refresh
    )
    stop.callback(folders.close)

    async def learn_connections() -> None:
        await folders.refresh(stack.engine, box, listener.restart_streams)

    listener = EwsListener(
        stack.engine, stack.bus, folders, listener_tuning(settings), before_round=learn_connections
    )
    halt = asyncio.Event()
    task = asyncio.create_task(listener.run(halt))

    async def stop_listener() -> None:
        halt.set()
        await task

    stop.push_async_callback(stop_listener)
    stack.started.append("EWS listener")


async def _end_ews_streams(sandbox: Any) -> None:
    """Before the sandbox stops: end the EWS emulator's open streaming responses, so no request
    handler is left waiting when its loop closes."""
    if "ews" not in sandbox.info.https_endpoints:
        return
    from sandbox.ews.control import EwsControlClient

    client = EwsControlClient(sandbox.info.https_endpoints["ews"], ssl_context=sandbox.tls.client_context())
    with contextlib.suppress(Exception):
        await asyncio.to_thread(client.cut_streams)


def _adapters(stack: Stack) -> None:
    for profile in stack.registry.profiles:
        name = str(profile.provider)
        module = f"calbridge.providers.{name}.adapter"
        if not _has_module(module):
            stack.missing[name] = f"the {_PROVIDER_NAMES[name]} adapter is not in this build"
        elif name != "google" and name not in stack.sandbox.info.https_endpoints:
            stack.missing[name] = f"the sandbox has no {_PROVIDER_NAMES[name]} emulator in this build"


_PROVIDER_NAMES = {"google": "Google", "graph": "Microsoft Graph", "ews": "Exchange (EWS)"}


async def wait_for_subscriptions(stack: Stack, within: float) -> bool:
    """Until every source calendar of an active pair has a live subscription (bounded); whether
    they all have one."""
    if "renewer" not in stack.started:
        return False
    import sqlalchemy as sa

    from calbridge.store.tables import subscriptions

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    wanted = await _watched_calendars(stack)
    while loop.time() < deadline:
        async with stack.engine.connect() as conn:
            rows = (await conn.execute(sa.select(subscriptions))).mappings().all()
        live = {row["calendar_id"] for row in rows if row.get("state") == "active" and row.get("provider_id")}
        if wanted <= live:
            return True
        await asyncio.sleep(0.1)
    _log().warning("demo_subscriptions_incomplete", wanted=len(wanted))
    return False


async def _watched_calendars(stack: Stack) -> set[str]:
    from calbridge.pairs.records import fetch_pairs
    from calbridge.pairs.states import PairState

    async with stack.engine.connect() as conn:
        active = await fetch_pairs(conn, states=[PairState.ACTIVE])
    watched: set[str] = set()
    for pair in active:
        if pair.via != "ews":
            watched.update(pair.ref(side) for side in pair.sources())
    return watched


# --- the whole stack


@contextlib.asynccontextmanager
async def running_stack(options: StackOptions = StackOptions()) -> AsyncIterator[Stack]:
    """Start everything, provision the pairs, yield; stop everything in reverse order.

    Settings come from `options.environ` (the process environment by default): RabbitMQ and
    PostgreSQL when their URLs are set there, else the memory bus and SQLite in a temporary
    folder. Everything else (keys, the receiver's URL) is made for this run."""
    from calbridge.bus import open_bus
    from calbridge.logs import configure_logging
    from calbridge.store.engine import create_engine
    from calbridge.store.migrate import upgrade
    from sandbox.server import Sandbox

    async with contextlib.AsyncExitStack() as stop:
        folder = Path(stop.enter_context(tempfile.TemporaryDirectory(prefix="calbridge-demo-")))
        sock = _bind_loopback()
        stop.callback(sock.close)
        receiver_url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        settings = demo_settings(
            folder, receiver_url, os.environ if options.environ is None else options.environ
        )
        configure_logging(settings.log_format, settings.log_level)
        # Libraries log through the standard library (aio-pika's channel notices at shutdown, for
        # one): at the demo's level too, for the run only.
        root = logging.getLogger()
        stop.callback(root.setLevel, root.level)
        root.setLevel(logging.getLevelNamesMapping()[settings.log_level.upper()])
        url = settings.database_url.get_secret_value()
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        stop.push_async_callback(engine.dispose)
        if not url.startswith("sqlite"):
            await forget_previous_run(engine)
        sandbox = await stop.enter_async_context(Sandbox.start(seed=options.seed))
        stop.push_async_callback(_end_ews_streams, sandbox)
        bus = open_bus(settings)
        await bus.connect()
        stop.push_async_callback(bus.close)
        stack = Stack(settings, folder, sandbox, engine, bus, receiver_url, Registry(settings))
        stack.started += ["sandbox", "store", "bus"]
        stack.connection_file = folder / "sandbox.json"
        sandbox.info.write(stack.connection_file)
        _adapters(stack)
        await save_connections(stack)
        server = _EmbeddedServer(_receiver_app(stack), sock, _receiver_certificate(sandbox, folder))
        await server.start()
        stop.push_async_callback(server.stop)
        stack.started.append("receiver")
        await resolve_calendars(stack)
        await _start_processors(stack, stop, options.processors)
        await _start_renewer(stack, stop, options.renewer_interval)
        await _start_ews_listener(stack, stop)
        if options.provision:
            await add_pairs(stack)
            await wait_for_subscriptions(stack, options.subscribe_timeout)
        if stack.freebusy is not None:
            # Sources act as an owner of the connection's calendars: open them once pairs exist.
            await stop.enter_async_context(stack.freebusy.running())
        yield stack
